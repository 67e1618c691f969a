// The bench's latency section (`npm run bench`, or alone with `--latency`): for veth, tunmesh
// with its default config, tunmesh with the bench's worker share, wireguard-go and nebula, one
// after another on the same veth pair, each on a warm tunnel (a flood-ping warm-up first):
//   - idle ping: one echo every 50 ms, median and p99 RTT;
//   - sockperf ping-pong, TCP and UDP, 64-byte messages, round trips (--full-rtt): p50/p99/p99.9;
//   - TCP request/response transactions per second (src/bench/rr.ts), 64 B each way, with 1 and
//     with 16 connections;
//   - the TCP ping-pong again while an iperf3 bulk TCP stream crosses the same tunnel in the same
//     direction: its p99 beside the idle p99.
// Every figure is a round trip.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ProcessOutput } from '../lab/netns.js';
import { LAB_CERT_NAME, type LabCredentials } from '../lab/certs.js';
import { errorMessage } from '../log/error-message.js';
import { iperf } from './iperf.js';
import { startNebula } from './nebula.js';
import { parseRrResult, type RrResult } from './rr.js';
import { sockperfPingPong, startSockperfServers, type SockperfResult } from './sockperf.js';
import { median, parseIperfTcp, parsePingTimes, percentile } from './stats.js';
import { UNDERLAY, startTunmesh, startWireguard, stopProcess, type Tunnel, type VethPair } from './topology.js';

export type LatencyScenario = 'veth' | 'tunmesh' | 'tunmesh-share' | 'wireguard-go' | 'nebula';
export const LATENCY_ALL: readonly LatencyScenario[] = ['veth', 'tunmesh', 'tunmesh-share', 'wireguard-go', 'nebula'];

export const RR_PORT = 11113;
const RR_SCRIPT = fileURLToPath(new URL('./rr.js', import.meta.url)).replace(/\/src\//, '/dist/');

export interface LatencyOptions {
  scenarios: readonly LatencyScenario[];
  /** Seconds of each sockperf and request/response run. */
  seconds: number;
  /** Idle pings (one every 50 ms). */
  pings: number;
  /** Request and reply size, bytes. */
  size: number;
  /** Workers per node of the tunmesh-share row (the bench's --workers). */
  shareWorkers: number;
  /** The product's default worker count on this machine (what workers: 0 resolves to). */
  defaultWorkers: number;
  /** Scenarios that cannot run here, with why (a peer not installed). */
  unavailable: ReadonlyMap<LatencyScenario, string>;
}

export interface IdlePing {
  medianMs: number;
  p99Ms: number;
  count: number;
  lost: number;
}

export interface LatencyResult {
  name: LatencyScenario;
  config: string;
  skipped?: string;
  /** Measurements that failed; the others are still reported. */
  errors: string[];
  ping?: IdlePing;
  tcp?: SockperfResult;
  udp?: SockperfResult;
  rr1?: RrResult;
  rr16?: RrResult;
  /** One 64 B request every 50 ms between two Node processes (rr.js --interval): plain TCP, and TLS as tunmesh's channels. */
  idleNode?: { tcp: RrResult; tls: RrResult };
  /** TCP ping-pong while iperf3 pushes bulk TCP through the tunnel, and iperf3's rate then. */
  loaded?: { tcp: SockperfResult; bulkMbps: number };
}

type Progress = (msg: string) => void;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Flood-ping warm-up (bounded by -w), so every scenario is measured warm. */
export async function warmUp(pair: VethPair, target: string): Promise<void> {
  await pair.exec(0, 'ping', ['-n', '-c', '5', '-i', '0.05', '-W', '1', target], 10_000, false);
  await pair.exec(0, 'ping', ['-n', '-q', '-f', '-c', '20000', '-w', '4', target], 15_000, false);
}

/** One echo every 50 ms. */
export async function idlePing(pair: VethPair, target: string, count: number): Promise<IdlePing> {
  const deadline = Math.ceil(count * 0.05 + 5);
  const p = await pair.exec(0, 'ping', ['-n', '-c', String(count), '-i', '0.05', '-W', '1', '-w', String(deadline), target], (deadline + 5) * 1000, false);
  const times = parsePingTimes(p.stdout);
  if (times.length === 0) throw new Error(`no ping replies from ${target}: ${(p.stdout + p.stderr).trim().slice(-300)}`);
  return { medianMs: median(times), p99Ms: percentile(times, 99), count: times.length, lost: count - times.length };
}

/** The request/response server in side 1 while `fn` runs (killed by PID after); with `creds`, over TLS. */
async function withRrServer<T>(pair: VethPair, target: string, fn: () => Promise<T>, creds?: LabCredentials): Promise<T> {
  const tlsArgs = creds === undefined ? [] : ['--tls-cert', creds.certPath, '--tls-key', creds.keyPath];
  const server = new ProcessOutput(pair.spawn(1, process.execPath, [RR_SCRIPT, 'server', '--host', target, '--port', String(RR_PORT), '--lifetime', '120', ...tlsArgs]));
  try {
    await server.waitForLine(/^listening /, { timeoutMs: 10_000, what: 'rr server' });
    return await fn();
  } finally {
    if (server.child.pid !== undefined) await stopProcess(server.child.pid, 2000);
  }
}

/** `extra`: rr.js client flags (an idle interval, TLS). */
async function requestResponse(pair: VethPair, target: string, connections: number, o: LatencyOptions, extra: readonly string[] = []): Promise<RrResult> {
  const args = [RR_SCRIPT, 'client', '--host', target, '--port', String(RR_PORT), '--size', String(o.size), '--connections', String(connections), '--seconds', String(o.seconds), ...extra];
  const r = await pair.exec(0, process.execPath, args, (o.seconds + 20) * 1000, false);
  if (r.code !== 0) throw new Error(`rr client exited ${r.code}: ${r.stderr.trim().slice(-300)}`);
  return parseRrResult(r.stdout);
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/**
 * TCP ping-pong while a single iperf3 TCP stream runs side 0 -> side 1 through the same tunnel:
 * the stream starts 2 s before the ping-pong (past slow start) and ends 2 s after it.
 */
async function pingPongUnderBulk(pair: VethPair, target: string, o: LatencyOptions): Promise<{ tcp: SockperfResult; bulkMbps: number }> {
  const leadSeconds = 2;
  const bulk = settle(iperf(pair, target, [], o.seconds + 2 * leadSeconds));
  const tcp = await settle(sleep(leadSeconds * 1000).then(() => sockperfPingPong(pair, target, { tcp: true, seconds: o.seconds, size: o.size })));
  const stream = await bulk;
  if (!tcp.ok) throw tcp.error;
  if (!stream.ok) throw stream.error;
  return { tcp: tcp.value, bulkMbps: parseIperfTcp(stream.value).bitsPerSecond / 1e6 };
}

/** Runs `fn`, or records its error and returns undefined. */
async function attempt<T>(what: string, errors: string[], fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    errors.push(`${what}: ${errorMessage(err)}`);
    return undefined;
  }
}

/** Every latency figure of one scenario; `target` is side 1's address in it; `creds` for the TLS request/response. */
export async function measureLatency(pair: VethPair, target: string, name: LatencyScenario, config: string, creds: LabCredentials, o: LatencyOptions, progress: Progress): Promise<LatencyResult> {
  const res: LatencyResult = { name, config, errors: [] };
  progress(`latency ${name}: warm-up, then ${o.pings} idle pings at 50 ms`);
  await warmUp(pair, target);
  res.ping = await attempt('idle ping', res.errors, () => idlePing(pair, target, o.pings));
  const servers = await startSockperfServers(pair, target, 10_000);
  try {
    progress(`latency ${name}: sockperf ping-pong TCP and UDP, ${o.seconds} s each`);
    res.tcp = await attempt('sockperf TCP', res.errors, () => sockperfPingPong(pair, target, { tcp: true, seconds: o.seconds, size: o.size }));
    res.udp = await attempt('sockperf UDP', res.errors, () => sockperfPingPong(pair, target, { tcp: false, seconds: o.seconds, size: o.size }));
    progress(`latency ${name}: request/response, 1 and 16 connections, ${o.seconds} s each`);
    await attempt('request/response', res.errors, () =>
      withRrServer(pair, target, async () => {
        res.rr1 = await requestResponse(pair, target, 1, o);
        res.rr16 = await requestResponse(pair, target, 16, o);
      }),
    );
    progress(`latency ${name}: idle request/response between two Node processes, TCP and TLS, one every 50 ms, ${o.seconds} s each`);
    await attempt('idle Node request/response', res.errors, async () => {
      const idle = ['--interval', '50'];
      const tcp = await withRrServer(pair, target, () => requestResponse(pair, target, 1, o, idle));
      const tls = await withRrServer(pair, target, () => requestResponse(pair, target, 1, o, [...idle, '--tls-ca', creds.certPath, '--tls-name', LAB_CERT_NAME]), creds);
      res.idleNode = { tcp, tls };
    });
    progress(`latency ${name}: sockperf ping-pong TCP under an iperf3 bulk stream`);
    res.loaded = await attempt('ping-pong under bulk', res.errors, () => pingPongUnderBulk(pair, target, o));
  } finally {
    await servers.stop();
  }
  return res;
}

/** The tunnel of a latency scenario (null: veth itself). */
async function startLatencyTunnel(name: LatencyScenario, pair: VethPair, dir: string, creds: LabCredentials, o: LatencyOptions): Promise<Tunnel | null> {
  const suffix = randomBytes(2).toString('hex');
  switch (name) {
    case 'veth':
      return null;
    case 'tunmesh':
      // The product's defaults: workers 0 (by CPU quota), offload auto, the channel port.
      return startTunmesh(pair, dir, creds, { fastPath: true, workers: 0, tag: 'latency-default', timeoutMs: 30_000 });
    case 'tunmesh-share':
      return startTunmesh(pair, dir, creds, { fastPath: true, workers: o.shareWorkers, tag: 'latency-share', timeoutMs: 30_000 });
    case 'wireguard-go':
      return startWireguard(pair, dir, suffix, 15_000);
    case 'nebula':
      return startNebula(pair, dir, suffix, 15_000);
  }
}

/** Why a scenario is left out of this run, if it is. */
function skipReason(name: LatencyScenario, o: LatencyOptions): string | undefined {
  const unavailable = o.unavailable.get(name);
  if (unavailable !== undefined) return unavailable;
  if (name === 'tunmesh-share' && o.shareWorkers === o.defaultWorkers) return `--workers ${o.shareWorkers} is the default here (the tunmesh row)`;
  return undefined;
}

async function latencyScenario(name: LatencyScenario, pair: VethPair, dir: string, creds: LabCredentials, o: LatencyOptions, progress: Progress): Promise<LatencyResult> {
  progress(`latency ${name}: setting up`);
  let tunnel: Tunnel | null = null;
  try {
    tunnel = await startLatencyTunnel(name, pair, dir, creds, o);
    const config = tunnel === null ? 'veth pair, MTU 1500' : await tunnel.describe();
    return await measureLatency(pair, tunnel === null ? UNDERLAY[1] : tunnel.addresses[1], name, config, creds, o, progress);
  } catch (err) {
    progress(`latency ${name}: FAILED: ${errorMessage(err)}`);
    return { name, config: '', errors: [errorMessage(err)] };
  } finally {
    await tunnel?.stop();
  }
}

/** Every latency scenario in turn on `pair`. */
export async function runLatencySection(pair: VethPair, dir: string, creds: LabCredentials, o: LatencyOptions, progress: Progress): Promise<LatencyResult[]> {
  const results: LatencyResult[] = [];
  for (const name of o.scenarios) {
    const skipped = skipReason(name, o);
    if (skipped !== undefined) {
      progress(`latency ${name}: skipped (${skipped})`);
      results.push({ name, config: '', skipped, errors: [] });
      continue;
    }
    results.push(await latencyScenario(name, pair, dir, creds, o, progress));
  }
  return results;
}
