// Process metrics (CPU, memory, event loop, GC) for the main process and each worker; worker
// series are summed over the workers by the aggregation in node.ts.
import { collectDefaultMetrics, type Registry } from 'prom-client';

export function collectProcessMetrics(registry: Registry, prefix: 'tunmesh_main_' | 'tunmesh_worker_'): void {
  collectDefaultMetrics({ register: registry, prefix });
  // prom-client names three gauges `*_total` (promtool: "non-counter metrics should not have
  // _total suffix"); their per-type twins without the suffix carry the same numbers.
  for (const kind of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`${prefix}nodejs_active_${kind}_total`);
}
