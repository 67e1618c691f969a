// `npm run bench` (as root): plain veth vs tunmesh fast path with TUN offloads (64 KB
// super-packets on v2 frames) vs the fast path without them vs tunmesh original (JSON) path vs
// wireguard-go, in one run, on two namespaces joined by a veth pair. Measures ping RTT (median,
// p99), iperf3 TCP 1 and 4 streams over IPv4 and over IPv6, UDP 64-byte packets per second
// received, tunnel CPU seconds per GB moved, and tunnel RSS; prints a table and writes
// bench/results/<date>.json.
// `--footprint` instead measures memory and start-up of mesh nodes (src/bench/footprint.ts).
// `--segment` instead measures software segmentation of GSO super-packets (src/bench/segment.ts).
// `--scale` instead measures the control plane at 16, 32 and 64 nodes (src/bench/scale.ts).
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { uniquePrefix, ProcessOutput } from '../lab/netns.js';
import { makeLabCredentials } from '../lab/certs.js';
import { cpuSeconds, rssBytes } from './proc.js';
import { fmt, median, parseIperfTcp, parseIperfUdp, parsePingTimes, percentile, ratio, renderTable, type TcpResult, type UdpResult } from './stats.js';
import { CLI, UNDERLAY, UNDERLAY6, VethPair, startTunmesh, startWireguard, type Tunnel } from './topology.js';
import { footprintTables, killFootprintNow, runFootprint, type FootprintResult } from './footprint.js';
import { errorMessage } from '../log/error-message.js';
import { DEFAULT_SEGMENT_BENCH, runSegmentBench, segmentTable } from './segment.js';
import { DEFAULT_SCALE, runScale, scaleTable, type ScaleOptions } from './scale.js';
import { simulate, type SimResult } from './simulate/simulate.js';
import { simulationTable } from './simulate/table.js';

const DEFAULT_SIMULATION = [100, 300, 1000];

type ScenarioName = 'veth' | 'tunmesh-offload' | 'tunmesh-fast' | 'tunmesh-legacy' | 'wireguard-go';
const ALL: ScenarioName[] = ['veth', 'tunmesh-offload', 'tunmesh-fast', 'tunmesh-legacy', 'wireguard-go'];

interface Options {
  quick: boolean;
  scenarios: ScenarioName[];
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

const USAGE = `usage: npm run bench -- [--quick] [--only veth,tunmesh-offload,tunmesh-fast,tunmesh-legacy,wireguard-go] [--workers N] [--mtu N] [--pings N] [--no-json]
       npm run bench -- --footprint [--workers N] [--no-json]
       npm run bench -- --segment [--no-json]
       npm run bench -- --scale [--sizes 16,32,64] [--idle SECONDS] [--no-json]
       npm run bench -- --simulate [--sizes 100,300,1000] [--no-json]
  --quick     3 s TCP runs, 2 s UDP run (default 10 s and 5 s)
  --workers   tunmesh data-plane workers per node (default: the node's share of the CPUs, i.e.
              CPUs / 2, at least 1, because both nodes run on this one machine; 0 = one per CPU,
              the product's default on a machine of its own)
  --mtu       tunnel MTU of the tunmesh scenarios (tunmesh.networking.mtu, 576..9000; default 1500)
  --footprint RSS/PSS of nodes' main process and workers (idle, after 1 GiB, 1/7/15 peers), start-up
              time to /health/live and /health/ready, a bare node process; one worker per node,
              plus an idle run with --workers N (default 2; 1 skips it) for the per-worker cost.
              Takes about 4 minutes; writes bench/results/<date>-footprint.json
  --segment   software segmentation (src/offload) of 64 KB super-packets into 1400-byte packets
              on one core, no root needed; about 10 s; writes bench/results/<date>-segment.json
  --simulate  the real membership code of N nodes over an in-memory transport and a virtual clock
              (src/bench/simulate): cold start, steady traffic, 10% churn; no root needed; a few
              minutes at 1000 nodes; writes bench/results/<date>-simulate.json`;

/** Flags that mean nothing to --footprint. */
const SCENARIO_FLAGS = ['--quick', '--only', '--mtu', '--pings'];

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, scenarios: [...ALL], workers: workersPerNode(), pings: 100, tcpSeconds: 10, udpSeconds: 5, out: '', footprint: false, segment: false, scale: null, simulate: null };
  let sizes: number[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--only') {
      const names = next().split(',');
      for (const n of names) if (!ALL.includes(n as ScenarioName)) throw new Error(`unknown scenario ${n}\n${USAGE}`);
      o.scenarios = ALL.filter((s) => names.includes(s));
    } else if (a === '--workers') o.workers = Number(next());
    else if (a === '--mtu') o.mtu = Number(next());
    else if (a === '--pings') o.pings = Math.max(50, Number(next()));
    else if (a === '--no-json') o.out = null;
    else if (a === '--footprint') o.footprint = true;
    else if (a === '--segment') o.segment = true;
    else if (a === '--scale') o.scale = { ...DEFAULT_SCALE };
    else if (a === '--simulate') o.simulate = o.simulate ?? [...DEFAULT_SIMULATION];
    else if (a === '--sizes') sizes = next().split(',').map(Number);
    else if (a === '--idle') o.scale = { ...(o.scale ?? DEFAULT_SCALE), idleSeconds: Number(next()) };
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
  console.error(`bench: missing ${missing.join(', ')}; install with: apt-get install ${missing.map((c) => tools[c]).join(' ')}`);
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

const IPERF_PORT = 5201;

async function iperf(pair: VethPair, server: string, args: string[], seconds: number): Promise<string> {
  const srv = new ProcessOutput(pair.spawn(1, 'iperf3', ['-s', '-1', '--forceflush', '-B', server, '-p', String(IPERF_PORT)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  try {
    await srv.waitForLine(/listening/i, { timeoutMs: 10_000, what: 'iperf3 server' });
    const r = await pair.exec(0, 'iperf3', ['-c', server, '-p', String(IPERF_PORT), '-J', '--connect-timeout', '5000', '-t', String(seconds), ...args], (seconds + 30) * 1000, false);
    return r.stdout;
  } finally {
    if (srv.child.pid !== undefined && !srv.exited) {
      await srv.waitForExit(3000).catch(() => {
        if (srv.child.pid !== undefined) process.kill(srv.child.pid, 'SIGKILL');
      });
    }
  }
}

async function measure(pair: VethPair, target: string, target6: string, tunnel: Tunnel | null, o: Options, name: ScenarioName): Promise<ScenarioResult> {
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
  const head = ['metric', ...cols, 'offload/wg', 'offload/veth', 'fast/wg', 'fast/veth', 'legacy/wg'];
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
  if (!haveTools({ ip: 'iproute2', ping: 'iputils-ping', iperf3: 'iperf3' })) {
    if (!onPath('iperf3')) console.error('bench: for the wireguard-go comparison too: apt-get install wireguard-go wireguard-tools iperf3');
    return 1;
  }
  if (!haveCli()) return 1;
  const haveWg = onPath('wireguard-go') && onPath('wg');
  if (!haveWg && o.scenarios.includes('wireguard-go')) {
    console.log('bench: wireguard-go/wg not installed, skipping that comparison; to include it: apt-get install wireguard-go wireguard-tools iperf3');
  }

  const prefix = uniquePrefix('bench');
  const dir = mkdtempSync(join(tmpdir(), 'tunmesh-bench-'));
  let pair: VethPair | undefined;
  const abort = (sig: NodeJS.Signals): void => {
    console.error(`\nbench: ${sig}, cleaning up`);
    pair?.killAll();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130); // netns.ts's exit hook deletes the namespaces
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  // A hard bound on the whole run, whatever hangs.
  const watchdog = setTimeout(() => abort('SIGALRM'), 12 * 60_000);
  watchdog.unref();

  const results: ScenarioResult[] = [];
  const m = machine();
  progress(`machine: ${m.nproc} CPUs, ${m.cpu}, kernel ${m.kernel}; namespaces ${prefix}-a/-b`);
  try {
    pair = await VethPair.create(prefix);
    const creds = await makeLabCredentials(dir);
    for (const name of o.scenarios) {
      if (name === 'wireguard-go' && !haveWg) {
        results.push({ name, skipped: 'wireguard-go/wireguard-tools not installed' });
        continue;
      }
      progress(`${name}: setting up`);
      let tunnel: Tunnel | null = null;
      try {
        if (name === 'tunmesh-offload' || name === 'tunmesh-fast' || name === 'tunmesh-legacy') {
          const offload = name === 'tunmesh-offload' ? 'on' : 'off';
          tunnel = await startTunmesh(pair, dir, creds, { fastPath: name !== 'tunmesh-legacy', offload, workers: o.workers, tag: name, timeoutMs: 30_000, ...(o.mtu ? { mtu: o.mtu } : {}) });
        } else if (name === 'wireguard-go') {
          tunnel = await startWireguard(pair, dir, randomBytes(2).toString('hex'), 15_000);
        }
        const target = tunnel === null ? UNDERLAY[1] : tunnel.addresses[1];
        const target6 = tunnel === null ? UNDERLAY6[1] : tunnel.addresses6[1];
        results.push(await measure(pair, target, target6, tunnel, o, name));
      } catch (err) {
        const msg = errorMessage(err);
        progress(`${name}: FAILED: ${msg}`);
        results.push({ name, error: msg });
      } finally {
        await tunnel?.stop();
      }
    }
  } finally {
    progress('cleaning up');
    await pair?.cleanup();
    rmSync(dir, { recursive: true, force: true });
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }

  const table = resultTable(results);
  console.log('');
  console.log(table);
  for (const r of results) {
    if (r.skipped !== undefined) console.log(`${r.name}: skipped (${r.skipped})`);
    if (r.error !== undefined) console.log(`${r.name}: error (${r.error})`);
  }
  const report = { date: new Date().toISOString(), machine: m, options: o, results, table };
  if (o.out !== null) writeReport(report, '');
  progress('done');
  return results.some((r) => r.error !== undefined) ? 2 : 0;
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
  progress(`simulate: sizes ${sizes.join(', ')}; the real membership code over an in-memory transport, virtual clock, the original's default timings, keepalive_rate 3`);
  const results: SimResult[] = [];
  for (const n of sizes) {
    progress(`  ${n} nodes`);
    const r = await simulate(n);
    progress(`    cold start ${r.coldSeconds ?? 'not in bound'} s, steady ${Math.round(r.steadyMessagesPerNodeMinute)} msgs/node/min, churn ${r.churnSeconds ?? 'not in bound'} s (${r.cpuSeconds.toFixed(1)} s of CPU)`);
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
  const results = await runScale(s, progress);
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
