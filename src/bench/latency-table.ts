// The latency section's tables: one row per scenario (figures in ms, all round trips), and
// tunmesh's rows against nebula's (the targets of issue 20).
import { fmt, ratio, renderTable } from './stats.js';
import type { LatencyResult, LatencyScenario } from './latency.js';
import type { SockperfResult } from './sockperf.js';

const ms = (us: number | undefined): number | null => (us === undefined ? null : us / 1000);

interface Column {
  label: string;
  get: (r: LatencyResult) => number | null | undefined;
  digits: number;
}

const COLUMNS: readonly Column[] = [
  { label: 'ping median', get: (r) => r.ping?.medianMs, digits: 3 },
  { label: 'ping p99', get: (r) => r.ping?.p99Ms, digits: 3 },
  { label: 'TCP pp p50', get: (r) => ms(r.tcp?.p50Us), digits: 3 },
  { label: 'TCP pp p99', get: (r) => ms(r.tcp?.p99Us), digits: 3 },
  { label: 'TCP pp p99.9', get: (r) => ms(r.tcp?.p999Us), digits: 3 },
  { label: 'UDP pp p50', get: (r) => ms(r.udp?.p50Us), digits: 3 },
  { label: 'UDP pp p99', get: (r) => ms(r.udp?.p99Us), digits: 3 },
  { label: 'UDP pp p99.9', get: (r) => ms(r.udp?.p999Us), digits: 3 },
  { label: 'RR/s 1 conn', get: (r) => r.rr1?.perSecond, digits: 0 },
  { label: 'RR/s 16 conns', get: (r) => r.rr16?.perSecond, digits: 0 },
  { label: 'idle Node RR TCP', get: (r) => r.idleNode?.tcp.rttMedianMs, digits: 3 },
  { label: 'idle Node RR TLS', get: (r) => r.idleNode?.tls.rttMedianMs, digits: 3 },
  { label: 'TCP pp p99 under bulk', get: (r) => ms(r.loaded?.tcp.p99Us), digits: 3 },
  { label: 'under bulk / idle p99', get: (r) => ratio(r.loaded?.tcp.p99Us, r.tcp?.p99Us), digits: 2 },
  { label: 'bulk Mbit/s meanwhile', get: (r) => r.loaded?.bulkMbps, digits: 0 },
];

function measured(results: readonly LatencyResult[]): LatencyResult[] {
  return results.filter((r) => r.skipped === undefined && r.config !== '');
}

/** One row per scenario: its config, then every figure. */
export function latencyTable(results: readonly LatencyResult[]): string {
  const head = ['scenario', 'config', ...COLUMNS.map((c) => c.label)];
  const body = measured(results).map((r) => [r.name, r.config, ...COLUMNS.map((c) => fmt(c.get(r), c.digits))]);
  return renderTable([head, ...body], 2);
}

interface Target {
  label: string;
  limit: number;
  /** The figure compared with the limit, for one tunmesh row (and nebula's row). */
  value: (r: LatencyResult, nebula: LatencyResult | undefined) => number | null;
}

const p = (s: SockperfResult | undefined, key: 'p50Us' | 'p99Us'): number | undefined => s?.[key];

const TARGETS: readonly Target[] = [
  { label: 'idle ping median / nebula', limit: 1, value: (r, n) => ratio(r.ping?.medianMs, n?.ping?.medianMs) },
  { label: 'TCP ping-pong p50 / nebula', limit: 1, value: (r, n) => ratio(p(r.tcp, 'p50Us'), p(n?.tcp, 'p50Us')) },
  { label: 'UDP ping-pong p50 / nebula', limit: 1, value: (r, n) => ratio(p(r.udp, 'p50Us'), p(n?.udp, 'p50Us')) },
  { label: 'idle ping p99 / nebula', limit: 1.5, value: (r, n) => ratio(r.ping?.p99Ms, n?.ping?.p99Ms) },
  { label: 'TCP ping-pong p99 / nebula', limit: 1.5, value: (r, n) => ratio(p(r.tcp, 'p99Us'), p(n?.tcp, 'p99Us')) },
  { label: 'UDP ping-pong p99 / nebula', limit: 1.5, value: (r, n) => ratio(p(r.udp, 'p99Us'), p(n?.udp, 'p99Us')) },
  { label: 'TCP ping-pong p99 under bulk / idle p99', limit: 3, value: (r) => ratio(r.loaded?.tcp.p99Us, r.tcp?.p99Us) },
];

function verdict(v: number | null, limit: number): string {
  if (v === null) return 'n/a';
  return `${fmt(v, 2)} (${v <= limit ? 'met' : 'missed'})`;
}

const TUNMESH_ROWS: readonly LatencyScenario[] = ['tunmesh', 'tunmesh-share'];

/** tunmesh's rows against the targets: ratios to nebula's figures in the same run. */
export function targetsTable(results: readonly LatencyResult[]): string {
  const rows = measured(results);
  const nebula = rows.find((r) => r.name === 'nebula');
  const tunmesh = rows.filter((r) => TUNMESH_ROWS.includes(r.name));
  const head = ['target', 'limit', ...tunmesh.map((r) => r.name)];
  const body = TARGETS.map((t) => [t.label, `<= ${t.limit}`, ...tunmesh.map((r) => verdict(t.value(r, nebula), t.limit))]);
  return renderTable([head, ...body]);
}
