// `npm run bench` (as root): plain veth vs tunmesh fast path with TUN offloads (64 KB
// super-packets on v2 frames) vs the fast path without them vs tunmesh original (JSON) path vs
// wireguard-go vs nebula, in one run, on two namespaces joined by a veth pair. Measures ping RTT
// (median, p99), iperf3 TCP 1 and 4 streams over IPv4 and over IPv6 (not nebula: IPv4 only),
// UDP 64-byte packets per second received, tunnel CPU seconds per GB moved, and tunnel RSS; then
// the latency section (src/bench/latency.ts: idle ping, sockperf ping-pong, request/response
// rates, ping-pong under bulk); prints the tables and writes bench/results/<date>.json.
// `--latency` runs only the latency section (bench/results/<date>-latency.json).
// `--footprint` instead measures memory and start-up of mesh nodes (src/bench/footprint.ts).
// `--segment` instead measures software segmentation of GSO super-packets (src/bench/segment.ts).
// `--scale` instead measures the control plane at 16, 32 and 64 nodes (src/bench/scale.ts).
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { uniquePrefix } from '../lab/netns.js';
import { makeLabCredentials, type LabCredentials } from '../lab/certs.js';
import { cpuSeconds, rssBytes } from './proc.js';
import { fmt, median, parseIperfTcp, parseIperfUdp, parsePingTimes, percentile, ratio, renderTable, type TcpResult, type UdpResult } from './stats.js';
import { CLI, UNDERLAY, UNDERLAY6, VethPair, startTunmesh, startWireguard, type Tunnel } from './topology.js';
import { iperf } from './iperf.js';
import { startNebula } from './nebula.js';
import { LATENCY_ALL, runLatencySection, type LatencyOptions, type LatencyResult, type LatencyScenario } from './latency.js';
import { latencyTable, targetsTable } from './latency-table.js';
import { FIREWALL_VARIANTS, firewallTable, runFirewallBench, type FirewallSample } from './firewall.js';
import { defaultWorkerCount } from '../config/worker-count.js';
import { DEFAULT_KEEPALIVE_RATE } from '../config/schema.js';
import { footprintTables, killFootprintNow, runFootprint, type FootprintResult } from './footprint.js';
import { errorMessage } from '../log/error-message.js';
import { DEFAULT_SEGMENT_BENCH, runSegmentBench, segmentTable } from './segment.js';
import { DEFAULT_SCALE, runScale, scaleTable, type ScaleOptions, type ScaleResult } from './scale.js';
import { openLabs } from '../lab/mesh-lab.js';
import { simulate, type SimResult } from './simulate/simulate.js';
import { simulationTable } from './simulate/table.js';

const DEFAULT_SIMULATION = [100, 300, 1000];

type ScenarioName = 'veth' | 'tunmesh-offload' | 'tunmesh-fast' | 'tunmesh-legacy' | 'wireguard-go' | 'nebula';
const ALL: ScenarioName[] = ['veth', 'tunmesh-offload', 'tunmesh-fast', 'tunmesh-legacy', 'wireguard-go', 'nebula'];
/** Peers the bench needs installed, and what it checks for (command -> Debian package). */
type Peer = 'wireguard-go' | 'nebula';
const PEER_TOOLS: Record<Peer, Record<string, string>> = {
  'wireguard-go': { 'wireguard-go': 'wireguard-go', wg: 'wireguard-tools' },
  nebula: { nebula: 'nebula', 'nebula-cert': 'nebula' },
};

interface Options {
  quick: boolean;
  scenarios: ScenarioName[];
  /** The latency section's scenarios (--only picks from both lists). */
  latencyScenarios: LatencyScenario[];
  /** also: after the scenarios (the default); only: --latency; off: --no-latency. */
  latency: 'also' | 'only' | 'off';
  workers: number;
  /** tunmesh.networking.mtu for the tunmesh scenarios (undefined: the default, 1500). */
  mtu?: number;
  pings: number;
  tcpSeconds: number;
  udpSeconds: number;
  out: string | null;
  /** --footprint: memory and start-up of mesh nodes instead of the scenarios. */
  footprint: boolean;
  /** --segment: software segmentation micro-benchmark instead of the scenarios. */
  segment: boolean;
  /** --scale: the control plane at 16..64 nodes instead of the scenarios. */
  scale: ScaleOptions | null;
  /** --simulate: node counts for the in-memory simulation of the control plane. */
  simulate: number[] | null;
  /** --firewall: rounds of the firewall cost comparison (src/bench/firewall.ts); 0: not this mode. */
  firewallRounds: number;
}

interface PingStats {
  median: number;
  p99: number;
  count: number;
  lost: number;
}

export interface ScenarioResult {
  name: ScenarioName;
  skipped?: string;
  error?: string;
  /** Warm tunnel (after a flood-ping warm-up). */
  pingMs?: PingStats;
  /** Fresh tunnel: the first pings after setup. */
  pingColdMs?: PingStats;
  tcp1?: TcpResult & { cpuSeconds: number | null; cpuSecondsPerGB: number | null };
  tcp4?: TcpResult & { cpuSeconds: number | null; cpuSecondsPerGB: number | null };
  /** The same TCP runs between the IPv6 addresses. */
  tcp6x1?: TcpResult;
  tcp6x4?: TcpResult;
  udp64?: UdpResult;
  rssBytes?: { main: number; workers: number; processes: number } | null;
}

/**
 * Both nodes share this machine, so each gets half of it: the product's default (a worker per
 * CPU, on a machine of its own) would put twice the processes on the cores a node really has.
 */
function workersPerNode(): number {
  return Math.max(1, Math.floor(availableParallelism() / 2));
}

const USAGE = `usage: npm run bench -- [--quick] [--only veth,tunmesh-offload,tunmesh-fast,tunmesh-legacy,wireguard-go,nebula] [--workers N] [--mtu N] [--pings N] [--no-latency] [--no-json]
       npm run bench -- --latency [--only veth,tunmesh,tunmesh-share,wireguard-go,nebula] [--workers N] [--pings N] [--no-json]
       npm run bench -- --footprint [--workers N] [--no-json]
       npm run bench -- --segment [--no-json]
       npm run bench -- --scale [--sizes 16,32,64] [--idle SECONDS] [--mesh-timeout SECONDS] [--no-json]
       npm run bench -- --firewall [--rounds N] [--quick] [--pings N] [--no-json]
       npm run bench -- --simulate [--sizes 100,300,1000] [--no-json]
  --quick     3 s TCP runs, 2 s UDP run (default 10 s and 5 s)
  --only      scenarios to run, comma-separated: the main ones (veth, tunmesh-offload, tunmesh-fast,
              tunmesh-legacy, wireguard-go, nebula) and the latency section's (veth, tunmesh =
              the default config, tunmesh-share = --workers per node, wireguard-go, nebula)
  --latency   only the latency section (~55 s per scenario, ~5 minutes): idle ping (50 ms apart),
              sockperf ping-pong TCP and UDP (64 B, round trips), TCP request/response per second
              with 1 and 16 connections, idle request/response between two Node processes (TCP
              and TLS, one every 50 ms), TCP ping-pong p99 under an iperf3 bulk stream; needs
              sockperf; writes bench/results/<date>-latency.json
  --no-latency  the main scenarios without the latency section
  --pings     pings per RTT figure, also the latency section's idle pings (default 100, >= 50)
  --no-json   print only, write no bench/results file
  --workers   tunmesh data-plane workers per node (default: the node's share of the CPUs, i.e.
              CPUs / 2, at least 1, because both nodes run on this one machine; 0 = one per CPU,
              the product's default on a machine of its own); in the latency section the
              tunmesh-share row (the tunmesh row keeps the product's default, workers: 0)
  --mtu       tunnel MTU of the tunmesh scenarios (tunmesh.networking.mtu, 576..9000; default 1500)
  --footprint RSS/PSS of nodes' main process and workers (idle, after 1 GiB, 1/7/15 peers), start-up
              time to /health/live and /health/ready, a bare node process; one worker per node,
              plus an idle run with --workers N (default 2; 1 skips it) for the per-worker cost.
              Takes about 4 minutes; writes bench/results/<date>-footprint.json
  --segment   software segmentation (src/offload) of 64 KB super-packets into 1400-byte packets
              on one core, no root needed; about 10 s; writes bench/results/<date>-segment.json
  --mesh-timeout  with --scale: the bound on each wait for a full mesh (default 120 s); a size that
              converges later than the 30 s target within it still gets its idle, ping and churn rows
  --firewall  tunmesh (default config) with no firewall, 1 rule and 100 rules (tunmesh.firewall),
              alternated over --rounds (default 3): single-stream TCP, ping-pong p50/p99, idle
              ping, the cost per round trip and packet; ~40 s per run; writes <date>-firewall.json
  --simulate  the real membership code of N nodes over an in-memory transport and a virtual clock
              (src/bench/simulate): cold start, steady traffic, 10% churn; no root needed; ~45 min
              of CPU at 1000 nodes (progress lines meanwhile); writes bench/results/<date>-simulate.json`;

/** Flags that mean nothing to --footprint. */
const SCENARIO_FLAGS = ['--quick', '--only', '--mtu', '--pings', '--latency', '--no-latency'];

/** --only NAMES: each name from either list; each list keeps its own order. */
function onlyScenarios(o: Options, list: string): void {
  const names = list.split(',');
  const known = new Set<string>([...ALL, ...LATENCY_ALL]);
  for (const n of names) if (!known.has(n)) throw new Error(`unknown scenario ${n}\n${USAGE}`);
  o.scenarios = ALL.filter((s) => names.includes(s));
  o.latencyScenarios = LATENCY_ALL.filter((s) => names.includes(s));
}

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, scenarios: [...ALL], latencyScenarios: [...LATENCY_ALL], latency: 'also', workers: workersPerNode(), pings: 100, tcpSeconds: 10, udpSeconds: 5, out: '', footprint: false, segment: false, scale: null, simulate: null, firewallRounds: 0 };
  let sizes: number[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--only') onlyScenarios(o, next());
    else if (a === '--latency') o.latency = 'only';
    else if (a === '--no-latency') o.latency = 'off';
    else if (a === '--workers') o.workers = Number(next());
    else if (a === '--mtu') o.mtu = Number(next());
    else if (a === '--pings') o.pings = Math.max(50, Number(next()));
    else if (a === '--no-json') o.out = null;
    else if (a === '--footprint') o.footprint = true;
    else if (a === '--segment') o.segment = true;
    else if (a === '--firewall') o.firewallRounds = o.firewallRounds || 3;
    else if (a === '--rounds') o.firewallRounds = Number(next());
    else if (a === '--scale') o.scale = { ...DEFAULT_SCALE };
    else if (a === '--simulate') o.simulate = o.simulate ?? [...DEFAULT_SIMULATION];
    else if (a === '--sizes') sizes = next().split(',').map(Number);
    else if (a === '--idle') o.scale = { ...(o.scale ?? DEFAULT_SCALE), idleSeconds: Number(next()) };
    else if (a === '--mesh-timeout') o.scale = { ...(o.scale ?? DEFAULT_SCALE), meshTimeoutSeconds: Number(next()) };
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  // --sizes belongs to --simulate when given, else to --scale (in whichever order they came).
  if (sizes && o.simulate) o.simulate = sizes;
  else if (sizes) o.scale = { ...(o.scale ?? DEFAULT_SCALE), sizes };
  if (o.footprint) return footprintOptions(o, argv);
  if (o.simulate) {
    if (o.simulate.some((n) => !Number.isInteger(n) || n < 2 || n > 5000)) throw new Error('--sizes takes node counts 2..5000 with --simulate, e.g. 100,300,1000');
    return o;
  }
  if (o.scale) return scaleOptions(o);
  if (o.quick) {
    o.tcpSeconds = 3;
    o.udpSeconds = 2;
  }
  if (!Number.isInteger(o.workers) || o.workers < 0 || o.workers > 64) throw new Error('--workers must be 0..64');
  if (o.mtu !== undefined && (!Number.isInteger(o.mtu) || o.mtu < 576 || o.mtu > 9000)) throw new Error('--mtu must be 576..9000');
  return o;
}

function scaleOptions(o: Options): Options {
  const s = o.scale as ScaleOptions;
  if (s.sizes.some((n) => !Number.isInteger(n) || n < 2 || n > 200)) throw new Error('--sizes takes node counts 2..200, e.g. 16,32,64');
  if (!Number.isFinite(s.idleSeconds) || s.idleSeconds < 10 || s.idleSeconds > 3600) throw new Error('--idle takes 10..3600 seconds');
  if (!Number.isFinite(s.meshTimeoutSeconds) || s.meshTimeoutSeconds < 10 || s.meshTimeoutSeconds > 3600) throw new Error('--mesh-timeout takes 10..3600 seconds');
  return o;
}

function footprintOptions(o: Options, argv: string[]): Options {
  const extra = argv.filter((a) => SCENARIO_FLAGS.includes(a));
  if (extra.length > 0) throw new Error(`--footprint does not take ${extra.join(', ')}\n${USAGE}`);
  if (!argv.includes('--workers')) o.workers = 2;
  if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > 64) throw new Error('--footprint --workers must be 1..64 (1: no per-worker comparison)');
  return o;
}

/** Whether every command (name -> Debian package) is on PATH; says what to install when not. */
function haveTools(tools: Record<string, string>): boolean {
  const missing = Object.keys(tools).filter((c) => !onPath(c));
  if (missing.length === 0) return true;
  const packages = [...new Set(missing.map((c) => tools[c]))];
  console.error(`bench: missing ${missing.join(', ')}; install with: apt-get install ${packages.join(' ')}`);
  return false;
}

function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

const started = Date.now();
function progress(msg: string): void {
  console.log(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${msg}`);
}

async function measure(pair: VethPair, target: string, target6: string | null, tunnel: Tunnel | null, o: Options, name: ScenarioName): Promise<ScenarioResult> {
  const res: ScenarioResult = { name };
  const cpu = (): number | null => (tunnel === null ? null : cpuSeconds(tunnel.pids()));

  // RTT twice: on the fresh tunnel (tunmesh's JavaScript is then still interpreted: V8 optimizes
  // the per-packet code only after it has run many times), and warm, after a flood-ping warm-up.
  const pingRun = async (): Promise<PingStats> => {
    const deadline = Math.ceil(o.pings * 0.02 + 5);
    const p = await pair.exec(0, 'ping', ['-n', '-c', String(o.pings), '-i', '0.02', '-W', '1', '-w', String(deadline), target], (deadline + 5) * 1000, false);
    const times = parsePingTimes(p.stdout);
    return { median: median(times), p99: percentile(times, 99), count: times.length, lost: o.pings - times.length };
  };
  progress(`${name}: ping x${o.pings} (fresh)`);
  await pair.exec(0, 'ping', ['-n', '-c', '5', '-i', '0.05', '-W', '1', target], 10_000, false);
  res.pingColdMs = await pingRun();
  progress(`${name}: flood-ping warm-up, then ping x${o.pings} (warm)`);
  await pair.exec(0, 'ping', ['-n', '-q', '-f', '-c', '20000', '-w', '4', target], 15_000, false);
  res.pingMs = await pingRun();

  for (const streams of [1, 4] as const) {
    progress(`${name}: iperf3 TCP ${streams} stream(s), ${o.tcpSeconds} s`);
    const before = cpu();
    const out = await iperf(pair, target, ['-P', String(streams)], o.tcpSeconds);
    const after = cpu();
    const tcp = parseIperfTcp(out);
    const used = before === null || after === null ? null : after - before;
    const r = { ...tcp, cpuSeconds: used, cpuSecondsPerGB: used === null || tcp.bytes === 0 ? null : used / (tcp.bytes / 1e9) };
    if (streams === 1) res.tcp1 = r;
    else res.tcp4 = r;
  }

  for (const streams of [1, 4] as const) {
    if (target6 === null) break; // an IPv4-only tunnel (nebula)
    progress(`${name}: iperf3 TCP over IPv6, ${streams} stream(s), ${o.tcpSeconds} s`);
    const tcp = parseIperfTcp(await iperf(pair, target6, ['-P', String(streams)], o.tcpSeconds));
    if (streams === 1) res.tcp6x1 = tcp;
    else res.tcp6x4 = tcp;
  }

  progress(`${name}: iperf3 UDP 64-byte packets, ${o.udpSeconds} s`);
  res.udp64 = parseIperfUdp(await iperf(pair, target, ['-u', '-l', '64', '-b', '0'], o.udpSeconds));

  if (tunnel !== null) {
    let main = 0;
    let workers = 0;
    const mem = tunnel.memoryPids().filter((m) => m.side === 0);
    for (const m of mem) {
      const rss = rssBytes(m.pid) ?? 0;
      if (m.role === 'main') main += rss;
      else workers += rss;
    }
    res.rssBytes = { main, workers, processes: mem.length };
  } else res.rssBytes = null;
  return res;
}

function machine(): { nproc: number; cpu: string; kernel: string; node: string } {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  let kernel = 'unknown';
  try {
    kernel = execFileSync('uname', ['-r'], { encoding: 'utf8', timeout: 2000 }).trim();
  } catch {
    // keep unknown
  }
  return { nproc: availableParallelism(), cpu: model, kernel, node: process.version };
}

export function resultTable(results: readonly ScenarioResult[]): string {
  const by = (n: ScenarioName): ScenarioResult | undefined => results.find((r) => r.name === n && r.skipped === undefined && r.error === undefined);
  const cols: ScenarioName[] = ALL;
  const mbps = (t: TcpResult | undefined): number | null => (t === undefined ? null : t.bitsPerSecond / 1e6);
  const veth = by('veth');
  const rows: { label: string; get: (r: ScenarioResult) => number | null | undefined; digits: number; overVeth?: boolean }[] = [
    { label: 'ping RTT median, fresh (ms)', get: (r) => r.pingColdMs?.median, digits: 3 },
    { label: 'ping RTT median, warm (ms)', get: (r) => r.pingMs?.median, digits: 3 },
    { label: 'ping RTT p99, warm (ms)', get: (r) => r.pingMs?.p99, digits: 3 },
    { label: 'RTT warm median over veth (ms)', get: (r) => (r.pingMs && veth?.pingMs ? r.pingMs.median - veth.pingMs.median : null), digits: 3, overVeth: true },
    { label: 'TCP 1 stream (Mbit/s)', get: (r) => mbps(r.tcp1), digits: 0 },
    { label: 'TCP 4 streams (Mbit/s)', get: (r) => mbps(r.tcp4), digits: 0 },
    { label: 'TCP 1 stream IPv6 (Mbit/s)', get: (r) => mbps(r.tcp6x1), digits: 0 },
    { label: 'TCP 4 streams IPv6 (Mbit/s)', get: (r) => mbps(r.tcp6x4), digits: 0 },
    { label: 'UDP 64 B received (kpps)', get: (r) => (r.udp64 ? r.udp64.receivedPps / 1e3 : null), digits: 1 },
    { label: 'CPU s/GB, TCP 1 stream', get: (r) => r.tcp1?.cpuSecondsPerGB, digits: 2 },
    { label: 'CPU s/GB, TCP 4 streams', get: (r) => r.tcp4?.cpuSecondsPerGB, digits: 2 },
    { label: 'RSS main per node (MB)', get: (r) => (r.rssBytes ? r.rssBytes.main / 2 ** 20 : null), digits: 1 },
    { label: 'RSS workers per node (MB)', get: (r) => (r.rssBytes && r.rssBytes.processes > 1 ? r.rssBytes.workers / 2 ** 20 : null), digits: 1 },
  ];
  const head = ['metric', ...cols, 'offload/wg', 'offload/veth', 'fast/wg', 'fast/veth', 'legacy/wg', 'offload/nebula', 'fast/nebula'];
  const body = rows.map((row) => {
    const v = (n: ScenarioName): number | null => {
      const r = by(n);
      const x = r === undefined ? null : row.get(r);
      return x === undefined ? null : x;
    };
    const fast = v('tunmesh-fast');
    const offload = v('tunmesh-offload');
    return [
      row.label,
      ...cols.map((c) => fmt(v(c), row.digits)),
      fmt(ratio(offload, v('wireguard-go')), 2),
      row.overVeth === true ? '' : fmt(ratio(offload, v('veth')), 2),
      fmt(ratio(fast, v('wireguard-go')), 2),
      row.overVeth === true ? '' : fmt(ratio(fast, v('veth')), 2),
      fmt(ratio(v('tunmesh-legacy'), v('wireguard-go')), 2),
      fmt(ratio(offload, v('nebula')), 2),
      fmt(ratio(fast, v('nebula')), 2),
    ];
  });
  return renderTable([head, ...body]);
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  if (o.segment) return segmentMain(o);
  if (o.simulate) return simulateMain(o, o.simulate);
  if (process.getuid?.() !== 0) {
    console.error('bench: must run as root (it creates network namespaces): sudo npm run bench');
    return 1;
  }
  if (o.footprint) return footprintMain(o);
  if (o.scale) return scaleMain(o, o.scale);
  if (o.firewallRounds > 0) return firewallMain(o);
  if (!haveTools({ ip: 'iproute2', ping: 'iputils-ping', iperf3: 'iperf3' })) return 1;
  if (!haveCli()) return 1;
  return benchMain(o, missingPeers(o));
}

/** Peers this run wants but cannot have, with why; says what to install. */
function missingPeers(o: Options): Map<Peer, string> {
  const missing = new Map<Peer, string>();
  for (const peer of Object.keys(PEER_TOOLS) as Peer[]) {
    const wanted = (o.latency !== 'only' && o.scenarios.includes(peer)) || (o.latency !== 'off' && o.latencyScenarios.includes(peer));
    if (!wanted || haveTools(PEER_TOOLS[peer])) continue;
    console.error(`bench: skipping the ${peer} scenario`);
    missing.set(peer, `${Object.keys(PEER_TOOLS[peer]).join('/')} not installed`);
  }
  return missing;
}

async function startScenarioTunnel(name: ScenarioName, pair: VethPair, dir: string, creds: LabCredentials, o: Options): Promise<Tunnel | null> {
  const suffix = randomBytes(2).toString('hex');
  if (name === 'tunmesh-offload' || name === 'tunmesh-fast' || name === 'tunmesh-legacy') {
    const offload = name === 'tunmesh-offload' ? 'on' : 'off';
    return startTunmesh(pair, dir, creds, { fastPath: name !== 'tunmesh-legacy', offload, workers: o.workers, tag: name, timeoutMs: 30_000, ...(o.mtu ? { mtu: o.mtu } : {}) });
  }
  if (name === 'wireguard-go') return startWireguard(pair, dir, suffix, 15_000);
  if (name === 'nebula') return startNebula(pair, dir, suffix, 15_000);
  return null;
}

/** The main scenarios, one after another on `pair`. */
async function runScenarios(pair: VethPair, dir: string, creds: LabCredentials, o: Options, missing: ReadonlyMap<Peer, string>): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const name of o.scenarios) {
    const skipped = missing.get(name as Peer);
    if (skipped !== undefined) {
      results.push({ name, skipped });
      continue;
    }
    progress(`${name}: setting up`);
    let tunnel: Tunnel | null = null;
    try {
      tunnel = await startScenarioTunnel(name, pair, dir, creds, o);
      const target = tunnel === null ? UNDERLAY[1] : tunnel.addresses[1];
      const target6 = tunnel === null ? UNDERLAY6[1] : (tunnel.addresses6?.[1] ?? null);
      results.push(await measure(pair, target, target6, tunnel, o, name));
    } catch (err) {
      const msg = errorMessage(err);
      progress(`${name}: FAILED: ${msg}`);
      results.push({ name, error: msg });
    } finally {
      await tunnel?.stop();
    }
  }
  return results;
}

function latencyOptions(o: Options, missing: ReadonlyMap<Peer, string>): LatencyOptions {
  const defaultWorkers = defaultWorkerCount().count;
  return {
    scenarios: o.latencyScenarios,
    seconds: 5,
    pings: o.pings,
    size: 64,
    shareWorkers: o.workers === 0 ? defaultWorkers : o.workers,
    defaultWorkers,
    unavailable: new Map<LatencyScenario, string>(missing),
  };
}

/** Whether the latency section runs; says why not when it was wanted. */
function latencyWanted(o: Options): boolean {
  if (o.latency === 'off' || o.latencyScenarios.length === 0) return false;
  if (haveTools({ sockperf: 'sockperf' })) return true;
  console.error('bench: skipping the latency section (it needs sockperf)');
  return false;
}

interface RunResults {
  scenarios: ScenarioResult[];
  latency: LatencyResult[] | null;
  /** Load average (1 min) before and after, to say how busy the machine was. */
  load: [number, number];
}

/** The scenarios and/or the latency section on one veth pair, cleaned up whatever happens. */
async function benchMain(o: Options, missing: ReadonlyMap<Peer, string>): Promise<number> {
  const withLatency = latencyWanted(o);
  if (o.latency === 'only' && !withLatency) return 1;
  const prefix = uniquePrefix('bench');
  const dir = mkdtempSync(join(tmpdir(), 'tunmesh-bench-'));
  let pair: VethPair | undefined;
  const abort = (sig: NodeJS.Signals | 'watchdog'): void => {
    console.error(`\nbench: ${sig}, cleaning up`);
    pair?.killAll();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130); // netns.ts's exit hook deletes the namespaces
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  // A hard bound on the whole run, whatever hangs.
  const watchdog = setTimeout(() => abort('watchdog'), ((o.latency === 'only' ? 0 : 12) + (withLatency ? 10 : 0)) * 60_000);
  watchdog.unref();

  const m = machine();
  const run: RunResults = { scenarios: [], latency: null, load: [loadavg()[0] ?? 0, 0] };
  progress(`machine: ${m.nproc} CPUs, ${m.cpu}, kernel ${m.kernel}; namespaces ${prefix}-a/-b; load ${run.load[0].toFixed(2)}`);
  try {
    pair = await VethPair.create(prefix);
    const creds = await makeLabCredentials(dir);
    if (o.latency !== 'only') run.scenarios = await runScenarios(pair, dir, creds, o, missing);
    if (withLatency) run.latency = await runLatencySection(pair, dir, creds, latencyOptions(o, missing), progress);
  } finally {
    progress('cleaning up');
    clearTimeout(watchdog);
    await pair?.cleanup();
    rmSync(dir, { recursive: true, force: true });
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }
  run.load[1] = loadavg()[0] ?? 0;
  report(o, m, run);
  progress('done');
  const failed = run.scenarios.some((r) => r.error !== undefined) || (run.latency ?? []).some((r) => r.errors.length > 0);
  return failed ? 2 : 0;
}

/** Prints the tables and writes them with every figure to bench/results/. */
function report(o: Options, m: ReturnType<typeof machine>, run: RunResults): void {
  const date = new Date().toISOString();
  const table = run.scenarios.length > 0 ? resultTable(run.scenarios) : null;
  if (table !== null) console.log(`\n${table}`);
  for (const r of run.scenarios) {
    if (r.skipped !== undefined) console.log(`${r.name}: skipped (${r.skipped})`);
    if (r.error !== undefined) console.log(`${r.name}: error (${r.error})`);
  }
  const latency = run.latency === null ? null : { table: latencyTable(run.latency), targets: targetsTable(run.latency) };
  if (run.latency !== null && latency !== null) {
    console.log(`\nLatency, ${date} (load average ${run.load[0].toFixed(2)} -> ${run.load[1].toFixed(2)}); every figure a round trip, ms; pp = sockperf ping-pong, 64 B, --full-rtt; RR/s = 64 B request / 64 B response per second; idle Node RR = median round trip of one 64 B request every 50 ms between two Node processes (rr.js), plain TCP and TLS, the floor of a Node process per hop:\n`);
    console.log(latency.table);
    console.log(`\nTargets (issue 20), ratios within this run:\n\n${latency.targets}`);
    for (const r of run.latency) {
      if (r.skipped !== undefined) console.log(`latency ${r.name}: skipped (${r.skipped})`);
      for (const e of r.errors) console.log(`latency ${r.name}: error (${e})`);
    }
  }
  const saved = { date, machine: m, load: run.load, options: o, results: run.scenarios, table, latency: run.latency, latencyTable: latency?.table ?? null, latencyTargets: latency?.targets ?? null };
  if (o.out !== null) writeReport(saved, o.latency === 'only' ? '-latency' : '');
}

function haveCli(): boolean {
  try {
    accessSync(CLI, constants.R_OK);
    return true;
  } catch {
    console.error(`bench: ${CLI} not found; run npm run build first`);
    return false;
  }
}

/** bench/results/<ISO date><suffix>.json */
function writeReport(report: { date: string }, suffix: string): void {
  const resultsDir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${report.date.replace(/:/g, '-')}${suffix}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nwrote ${file}`);
}

/** `--firewall`: tunmesh with no firewall, 1 rule and 100 rules, alternated over rounds (src/bench/firewall.ts). */
async function firewallMain(o: Options): Promise<number> {
  if (!Number.isInteger(o.firewallRounds) || o.firewallRounds < 1 || o.firewallRounds > 20) throw new Error('--rounds takes 1..20');
  if (!haveTools({ ip: 'iproute2', iperf3: 'iperf3', sockperf: 'sockperf', nft: 'nftables' }) || !haveCli()) return 1;
  const m = machine();
  const dir = mkdtempSync(join(tmpdir(), 'tunmesh-bench-'));
  const pair = await VethPair.create(uniquePrefix('benchfw'));
  const opts = { rounds: o.firewallRounds, tcpSeconds: o.quick ? 3 : 10, pingPongSeconds: 5, pings: o.pings };
  progress(`firewall: ${m.nproc} CPUs, kernel ${m.kernel}; ${opts.rounds} rounds of none / 1 / 100 rules, default config (workers by CPU quota, offloads auto)`);
  let samples: FirewallSample[];
  try {
    samples = await runFirewallBench(pair, dir, await makeLabCredentials(dir), opts, progress);
  } finally {
    await pair.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
  const table = firewallTable(samples);
  const date = new Date().toISOString();
  console.log(`\nFirewall cost, ${date}; config: ${samples[0]?.config ?? 'n/a'}; medians over rounds; pp = sockperf TCP ping-pong, 64 B, round trips:\n\n${table}`);
  const saved = { date, machine: m, options: opts, samples, table };
  if (o.out !== null) writeReport(saved, '-firewall');
  return samples.length === opts.rounds * FIREWALL_VARIANTS.length ? 0 : 2;
}

/** `--segment`: software segmentation of GSO super-packets on one core. */
function segmentMain(o: Options): number {
  const m = machine();
  progress(`segment: ${m.nproc} CPUs, ${m.cpu}, Node ${m.node}; packets of at most ${DEFAULT_SEGMENT_BENCH.packetLen} bytes`);
  const rows = runSegmentBench(DEFAULT_SEGMENT_BENCH, progress);
  const table = segmentTable(rows);
  console.log(`\n${table}`);
  const report = { date: new Date().toISOString(), machine: m, options: DEFAULT_SEGMENT_BENCH, segment: rows, table };
  if (o.out !== null) writeReport(report, '-segment');
  return 0;
}

/** `--simulate`: the control plane at sizes one machine cannot run (src/bench/simulate/). */
async function simulateMain(o: Options, sizes: number[]): Promise<number> {
  const m = machine();
  progress(`simulate: sizes ${sizes.join(', ')}; the real membership code over an in-memory transport, virtual clock, the original's default timings, keepalive_rate ${DEFAULT_KEEPALIVE_RATE} (the default)`);
  const results: SimResult[] = [];
  for (const n of sizes) {
    progress(`  ${n} nodes`);
    const r = await simulate(n, { progress });
    progress(`    done: ${r.cpuSeconds.toFixed(1)} s of CPU`);
    results.push(r);
  }
  const table = simulationTable(results);
  console.log(`\n${table}`);
  const report = { date: new Date().toISOString(), machine: m, sizes, simulation: results, table };
  if (o.out !== null) writeReport(report, '-simulate');
  return 0;
}

/** `--scale`: the control plane at 16..64 real nodes (src/bench/scale.ts). */
async function scaleMain(o: Options, s: ScaleOptions): Promise<number> {
  if (!haveTools({ ip: 'iproute2', ping: 'iputils-ping' })) return 1;
  if (!haveCli()) return 1;
  const m = machine();
  progress(`scale: ${m.nproc} CPUs, ${m.cpu}, kernel ${m.kernel}, Node ${m.node}; sizes ${s.sizes.join(', ')}, one worker per node, the original's default timings, idle ${s.idleSeconds} s`);
  const abort = (sig: NodeJS.Signals): void => {
    console.error(`\nbench: ${sig}, stopping the nodes and removing the namespaces`);
    for (const lab of openLabs()) lab.killNow();
    process.exit(130); // netns.ts's exit hook deletes the namespaces
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  let results: ScaleResult[];
  try {
    results = await runScale(s, progress);
  } finally {
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }
  const table = scaleTable(results);
  console.log(`\n${table}`);
  const report = { date: new Date().toISOString(), machine: m, options: s, scale: results, table };
  if (o.out !== null) writeReport(report, '-scale');
  return results.some((r) => r.error !== undefined) ? 2 : 0;
}

/** `--footprint`: memory and start-up of mesh nodes (src/bench/footprint.ts). */
async function footprintMain(o: Options): Promise<number> {
  if (!haveTools({ ip: 'iproute2', curl: 'curl' })) return 1;
  if (!haveCli()) return 1;
  const abort = (sig: NodeJS.Signals): void => {
    console.error(`\nbench: ${sig}, cleaning up`);
    killFootprintNow();
    process.exit(130); // netns.ts's exit hook deletes the namespaces
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  const watchdog = setTimeout(() => abort('SIGALRM'), 15 * 60_000);
  watchdog.unref();
  const m = machine();
  progress(`footprint: ${m.nproc} CPUs, ${m.cpu}, kernel ${m.kernel}, Node ${m.node}; one worker per node, per-worker comparison with ${o.workers}`);
  let result: FootprintResult;
  try {
    result = await runFootprint(o.workers, progress);
  } finally {
    clearTimeout(watchdog);
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }
  const table = footprintTables(result);
  console.log(`\n${table}`);
  for (const e of result.errors) console.log(`error: ${e}`);
  const report = { date: new Date().toISOString(), machine: m, options: { workers: o.workers }, footprint: result, table };
  if (o.out !== null) writeReport(report, '-footprint');
  progress('done');
  return result.errors.length > 0 ? 2 : 0;
}

// Exported for tests; run when executed directly.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`bench: ${errorMessage(err)}`);
      process.exit(1);
    },
  );
}
