// Pure helpers of the benchmark: statistics, parsing of ping and iperf3 output, the table.

export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/** Nearest-rank percentile (p in 0..100); NaN for an empty list. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

/** The `time=0.123 ms` of every reply in iputils ping output, in milliseconds. */
export function parsePingTimes(output: string): number[] {
  const out: number[] = [];
  for (const m of output.matchAll(/time[=<]([0-9.]+) ?ms/g)) out.push(Number(m[1]));
  return out;
}

export interface TcpResult {
  /** Receiver-side goodput. */
  bitsPerSecond: number;
  bytes: number;
  seconds: number;
  retransmits: number;
}

export interface UdpResult {
  sentPackets: number;
  lostPackets: number;
  receivedPackets: number;
  seconds: number;
  receivedPps: number;
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null) throw new Error(`iperf3 JSON: no ${what}`);
  return v as Record<string, unknown>;
}

function num(o: Record<string, unknown>, key: string, what: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`iperf3 JSON: no number ${what}.${key}`);
  return v;
}

function iperfEnd(json: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error(`iperf3 did not print JSON: ${json.slice(0, 300)}`);
  }
  const root = obj(parsed, 'root');
  if (typeof root.error === 'string') throw new Error(`iperf3: ${root.error}`);
  return obj(root.end, 'end');
}

/** `iperf3 -J` TCP client output -> receiver-side throughput. */
export function parseIperfTcp(json: string): TcpResult {
  const end = iperfEnd(json);
  const rcv = obj(end.sum_received, 'end.sum_received');
  const snd = obj(end.sum_sent, 'end.sum_sent');
  return {
    bitsPerSecond: num(rcv, 'bits_per_second', 'sum_received'),
    bytes: num(rcv, 'bytes', 'sum_received'),
    seconds: num(rcv, 'seconds', 'sum_received'),
    retransmits: typeof snd.retransmits === 'number' ? snd.retransmits : 0,
  };
}

/** `iperf3 -u -J` client output -> packets the server received per second. */
export function parseIperfUdp(json: string): UdpResult {
  const end = iperfEnd(json);
  const sum = obj(end.sum, 'end.sum');
  const sentPackets = num(sum, 'packets', 'sum');
  const lostPackets = Math.max(0, num(sum, 'lost_packets', 'sum'));
  const seconds = num(sum, 'seconds', 'sum');
  const receivedPackets = Math.max(0, sentPackets - lostPackets);
  return { sentPackets, lostPackets, receivedPackets, seconds, receivedPps: seconds > 0 ? receivedPackets / seconds : 0 };
}

/** a / b, or null when either is missing or b is 0. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return a / b;
}

export function fmt(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  return v.toFixed(digits);
}

/**
 * A plain-text (markdown) table: first row is the header, columns padded; the first `textColumns`
 * columns (default 1) left-aligned, the others right-aligned.
 */
export function renderTable(rows: readonly (readonly string[])[], textColumns = 1): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const line = (row: readonly string[]): string =>
    '| ' + row.map((cell, i) => (i < textColumns ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ') + ' |';
  const [head, ...body] = rows;
  if (head === undefined) return '';
  const sep = '|' + widths.map((w, i) => (i < textColumns ? ':' + '-'.repeat(w + 1) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(head), sep, ...body.map(line)].join('\n');
}
