// sockperf ping-pong between the bench's namespaces: `sockperf server` in side 1 (one TCP and
// one UDP listener on the target address), `sockperf ping-pong` in side 0, and the percentiles
// read from its output. The bench always passes --full-rtt, so every figure is a round trip
// (without it sockperf reports "latency", half the round trip). sockperf sends the next message
// as soon as the reply came (--mps max, its ping-pong default) and blocks in recvfrom(): no
// busy-polling.
import type { ChildProcess } from 'node:child_process';
import { waitFor } from '../lab/netns.js';
import { stopProcess, type VethPair } from './topology.js';

export const SOCKPERF_TCP_PORT = 11111;
export const SOCKPERF_UDP_PORT = 11112;

export class SockperfOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SockperfOutputError';
  }
}

export interface SockperfResult {
  /** round-trip with --full-rtt; one-way: sockperf's default "latency", RTT / 2. */
  measure: 'round-trip' | 'one-way';
  /** Observations in the valid window (after sockperf's warm-up). */
  observations: number;
  /** Messages answered per second in the valid window: round trips per second, one connection. */
  perSecond: number;
  dropped: number;
  /** Microseconds, as sockperf prints them. */
  avgUs: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

function numberAfter(output: string, re: RegExp, what: string): number {
  const m = re.exec(output);
  const v = m?.[1] === undefined ? NaN : Number(m[1]);
  if (!Number.isFinite(v)) throw new SockperfOutputError(`sockperf output has no ${what}: ${output.trim().slice(-400)}`);
  return v;
}

/** The `percentile 99.900 =  104.716` lines: percentile -> microseconds. */
function percentiles(output: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const m of output.matchAll(/percentile (\d+\.\d+) =\s*([0-9.]+)/g)) found.set(m[1] as string, Number(m[2]));
  return found;
}

function percentileOf(found: Map<string, number>, key: string, output: string): number {
  const v = found.get(key);
  if (v === undefined) throw new SockperfOutputError(`sockperf output has no percentile ${key}: ${output.trim().slice(-400)}`);
  return v;
}

/** `sockperf ping-pong` output (sockperf 3.x, colour codes and all) -> its figures. */
export function parseSockperf(output: string): SockperfResult {
  const avg = /avg-(rtt|latency)=([0-9.]+)/.exec(output);
  if (avg === null) throw new SockperfOutputError(`sockperf output has no avg-rtt/avg-latency line: ${output.trim().slice(-400)}`);
  const found = percentiles(output);
  const seconds = numberAfter(output, /\[Valid Duration\] RunTime=([0-9.]+) sec/, 'valid duration');
  const received = numberAfter(output, /\[Valid Duration\][^\n]*ReceivedMessages=(\d+)/, 'received messages');
  return {
    measure: avg[1] === 'rtt' ? 'round-trip' : 'one-way',
    observations: numberAfter(output, /Total (\d+) observations/, 'observation count'),
    perSecond: seconds > 0 ? received / seconds : 0,
    dropped: numberAfter(output, /# dropped messages = (\d+)/, 'dropped messages'),
    avgUs: Number(avg[2]),
    p50Us: percentileOf(found, '50.000', output),
    p99Us: percentileOf(found, '99.000', output),
    p999Us: percentileOf(found, '99.900', output),
    maxUs: numberAfter(output, /<MAX> observation =\s*([0-9.]+)/, 'maximum'),
  };
}

export interface PingPongOptions {
  tcp: boolean;
  seconds: number;
  /** Message size in bytes (request and reply). */
  size: number;
}

/** `sockperf ping-pong` from side 0 to a `sockperf server` on `target`, round trips. */
export async function sockperfPingPong(pair: VethPair, target: string, o: PingPongOptions): Promise<SockperfResult> {
  const port = o.tcp ? SOCKPERF_TCP_PORT : SOCKPERF_UDP_PORT;
  const args = ['ping-pong', '-i', target, '-p', String(port), '-t', String(o.seconds), '-m', String(o.size), '--full-rtt', ...(o.tcp ? ['--tcp'] : [])];
  const r = await pair.exec(0, 'sockperf', args, (o.seconds + 20) * 1000, false);
  if (r.code !== 0) throw new SockperfOutputError(`sockperf ${args.join(' ')} exited ${r.code}: ${(r.stdout + r.stderr).trim().slice(-400)}`);
  return parseSockperf(r.stdout + r.stderr);
}

/** Whether side 1 has a listener on `port` (TCP: listening; UDP: bound). */
async function listening(pair: VethPair, tcp: boolean, port: number): Promise<boolean> {
  const r = await pair.exec(1, 'ss', ['-Hn', tcp ? '-lt' : '-lu', 'sport', '=', `:${port}`], 3000, false);
  return r.code === 0 && r.stdout.trim().length > 0;
}

export interface SockperfServers {
  stop(): Promise<void>;
}

/** A TCP and a UDP `sockperf server` in side 1 on `address`; resolves once both listen. */
export async function startSockperfServers(pair: VethPair, address: string, timeoutMs: number): Promise<SockperfServers> {
  const procs: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((c) => (c.pid === undefined ? undefined : stopProcess(c.pid, 2000))));
  };
  try {
    procs.push(pair.spawn(1, 'sockperf', ['server', '-i', address, '-p', String(SOCKPERF_TCP_PORT), '--tcp'], { stdio: 'ignore' }));
    procs.push(pair.spawn(1, 'sockperf', ['server', '-i', address, '-p', String(SOCKPERF_UDP_PORT)], { stdio: 'ignore' }));
    await waitFor(
      async () => {
        for (const c of procs) if (c.exitCode !== null || c.signalCode !== null) throw new SockperfOutputError(`sockperf server exited (${c.exitCode ?? c.signalCode})`);
        return (await listening(pair, true, SOCKPERF_TCP_PORT)) && (await listening(pair, false, SOCKPERF_UDP_PORT));
      },
      { timeoutMs, intervalMs: 100, what: `sockperf servers on ${address}` },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}
