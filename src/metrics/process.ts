// Process metrics (CPU, memory, event loop, GC) for the main process and each worker; worker
// series are summed over the workers by the aggregation in node.ts.
import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * The event-loop delay histogram samples with a libuv timer that wakes the process at every tick,
 * idle or not (prom-client's default: 10 ms). Once a second: at 2 idle nodes the node's CPU fell
 * from 0.54-0.59 % to 0.31-0.34 % of a core against 100 ms (main 0.37-0.42 -> 0.24-0.27 %, worker
 * 0.17 -> 0.07 %; two runs each, bench/README.md "Scale", 2026-12-07 fourth), the largest part of
 * what an idle node spends for being up (issue 19). The price: a stall is seen when it covers a
 * tick, so one 200 ms stall is caught with a 20 % chance; a loop that stalls again and again, the
 * case an operator alerts on, still shows in the percentiles. eventloop_lag (measured at scrape)
 * is unaffected.
 */
const EVENT_LOOP_PRECISION_MS = 1000;

export function collectProcessMetrics(registry: Registry, prefix: 'tunmesh_main_' | 'tunmesh_worker_'): void {
  collectDefaultMetrics({ register: registry, prefix, eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
  // prom-client names three gauges `*_total` (promtool: "non-counter metrics should not have
  // _total suffix"); their per-type twins without the suffix carry the same numbers.
  for (const kind of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`${prefix}nodejs_active_${kind}_total`);
}
