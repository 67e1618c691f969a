// Process metrics (CPU, memory, event loop, GC) for the main process and each worker; worker
// series are summed over the workers by the aggregation in node.ts.
import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * The event-loop delay histogram samples with a libuv timer: prom-client's default 10 ms wakes every
 * process 100 times a second even when the mesh is idle, the largest part of a node's idle CPU
 * (issue 19). 100 ms still sees every stall that matters to an operator (the histogram's lowest
 * bucket of interest is 0.1 s) at a tenth of the wake-ups.
 */
const EVENT_LOOP_PRECISION_MS = 100;

export function collectProcessMetrics(registry: Registry, prefix: 'tunmesh_main_' | 'tunmesh_worker_'): void {
  collectDefaultMetrics({ register: registry, prefix, eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
  // prom-client names three gauges `*_total` (promtool: "non-counter metrics should not have
  // _total suffix"); their per-type twins without the suffix carry the same numbers.
  for (const kind of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`${prefix}nodejs_active_${kind}_total`);
}
