// `npm run bench -- --scale` (as root): how the control plane holds at 16, 32 and 64 real nodes
// on this machine (MeshLab: namespaces on a bridge, real `tunmesh run` nodes, one worker each,
// the original's default timings, all bootstrapping from node 0, started together). Per size:
//   1. cold start   - time from the last node listening to the full mesh; failed and timed-out
//                     requests and removals logged meanwhile
//   2. idle         - the same counts over an idle window, CPU per node, memory and sockets
//   3. traffic      - 20 random pairs ping through the mesh
//   4. churn        - kill -9 of 10% of the nodes: time until every survivor has groomed them,
//                     then restart them (new ids) and time until the full mesh is back
// Counts come from the nodes' own JSON logs (what an operator would grep), read at phase ends.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { MeshLab } from '../lab/mesh-lab.js';
import { killPid, uniquePrefix } from '../lab/netns.js';
import { errorMessage } from '../log/error-message.js';
import { cpuSeconds, processTree, rssBytes } from './proc.js';
import { fmt, median, renderTable } from './stats.js';
import type { Progress } from './footprint.js';

export interface ScaleOptions {
  sizes: number[];
  idleSeconds: number;
  /** Bound on every wait for a full mesh. */
  meshTimeoutSeconds: number;
}

export const DEFAULT_SCALE: ScaleOptions = { sizes: [16, 32, 64], idleSeconds: 300, meshTimeoutSeconds: 120 };

/** The original's defaults (reference §2): every lab node is in one /24, so "local" timings. */
const ORIGINAL_TIMING = { groomInterval: 5, reregistration: 5, stale: 30, bootstrapRetry: 15 };
const PING_PAIRS = 20;
const POLL_MS = 1000;

/** What the nodes' logs say happened (summed over nodes). */
export interface LogCounts {
  failedRegistrations: number;
  timedOut: number;
  removals: number;
  sessionFailures: number;
  deferred: number;
}

export interface ScaleResult {
  nodes: number;
  error?: string;
  /** Seconds from the last node listening to the full mesh (null: not within the bound). */
  convergeSeconds: number | null;
  /** Peers with an outbound session summed over nodes when the cold start ended, of n(n-1). */
  linksUp: number;
  coldStart?: LogCounts;
  idle?: LogCounts;
  idleSeconds: number;
  /** Median over nodes of the idle CPU (main + worker), % of one core. */
  idleCpuPercent?: number;
  /** Median over nodes, MB (main + worker). */
  rssMb?: number;
  /** Median over nodes of open sockets (main + worker). */
  sockets?: number;
  pingPairsOk?: number;
  pingPairs?: number;
  killed?: number;
  /** Seconds from kill -9 until every survivor has dropped the killed nodes. */
  groomSeconds?: number | null;
  /** Seconds from restarting them until the full mesh is back. */
  rejoinSeconds?: number | null;
  churn?: LogCounts;
}

const COUNTED: Array<[keyof LogCounts, (msg: string, line: string) => boolean]> = [
  ['failedRegistrations', (m) => m === 'registration failed' || m === 're-registration failed'],
  ['timedOut', (_m, line) => line.includes('timed out after')],
  ['removals', (m) => m === 'node removed'],
  ['sessionFailures', (m) => m === 'session negotiation failed'],
  ['deferred', (m) => m === 'control work deferred'],
];

function countLog(path: string): LogCounts {
  const counts: LogCounts = { failedRegistrations: 0, timedOut: 0, removals: 0, sessionFailures: 0, deferred: 0 };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return counts;
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let msg: string;
    try {
      msg = String((JSON.parse(line) as { message?: unknown }).message ?? '');
    } catch {
      continue;
    }
    for (const [key, match] of COUNTED) if (match(msg, line)) counts[key]++;
  }
  return counts;
}

function sumCounts(lab: MeshLab): LogCounts {
  const total: LogCounts = { failedRegistrations: 0, timedOut: 0, removals: 0, sessionFailures: 0, deferred: 0 };
  for (const n of lab.nodes) {
    const c = countLog(n.logPath);
    for (const k of Object.keys(total) as Array<keyof LogCounts>) total[k] += c[k];
  }
  return total;
}

function minus(a: LogCounts, b: LogCounts): LogCounts {
  const out = { ...a };
  for (const k of Object.keys(out) as Array<keyof LogCounts>) out[k] -= b[k];
  return out;
}

function socketsOf(pids: number[]): number {
  let n = 0;
  for (const pid of pids) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
        } catch {
          // closed meanwhile
        }
      }
    } catch {
      // exited
    }
  }
  return n;
}

function nodePid(lab: MeshLab, i: number): number {
  return lab.node(i).process?.child.pid ?? 0;
}

/** Peers up summed over the given nodes (status sockets), and whether that is the full mesh. */
async function linksUp(lab: MeshLab, indexes: number[]): Promise<{ up: number; full: boolean }> {
  const statuses = await Promise.all(indexes.map((i) => lab.status(i).catch(() => undefined)));
  const ids = new Set(statuses.map((s) => s?.id));
  let up = 0;
  let full = statuses.every((s) => s !== undefined);
  for (const s of statuses) {
    const mine = s?.peers.filter((p) => p.state === 'up' && ids.has(p.id)).length ?? 0;
    up += mine;
    if (mine !== indexes.length - 1) full = false;
  }
  return { up, full };
}

async function waitFullMesh(lab: MeshLab, indexes: number[], timeoutS: number, progress: Progress, what: string): Promise<{ seconds: number | null; up: number }> {
  const started = Date.now();
  const want = indexes.length * (indexes.length - 1);
  let last = { up: 0, full: false };
  let lastReport = 0;
  while (Date.now() - started < timeoutS * 1000) {
    last = await linksUp(lab, indexes);
    if (last.full) return { seconds: (Date.now() - started) / 1000, up: last.up };
    if (Date.now() - lastReport > 5000) {
      progress(`    ${what}: links up ${last.up}/${want} after ${Math.round((Date.now() - started) / 1000)} s`);
      lastReport = Date.now();
    }
    await sleep(POLL_MS);
  }
  return { seconds: null, up: last.up };
}

/** Seconds until no survivor lists any of `gone` (null: not within the bound). */
async function waitGroomed(lab: MeshLab, survivors: number[], gone: Set<string>, timeoutS: number): Promise<number | null> {
  const started = Date.now();
  while (Date.now() - started < timeoutS * 1000) {
    const lists = await Promise.all(survivors.map((i) => lab.status(i).then((s) => s.peers.map((p) => p.id)).catch(() => undefined)));
    if (lists.every((l) => l !== undefined && !l.some((id) => gone.has(id)))) return (Date.now() - started) / 1000;
    await sleep(POLL_MS);
  }
  return null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function randomPairs(n: number, count: number): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  while (pairs.length < count) {
    const a = Math.floor(Math.random() * n);
    const b = Math.floor(Math.random() * n);
    if (a !== b) pairs.push([a, b]);
  }
  return pairs;
}

async function measureIdle(lab: MeshLab, seconds: number, progress: Progress): Promise<Pick<ScaleResult, 'idle' | 'idleCpuPercent' | 'rssMb' | 'sockets'>> {
  const indexes = lab.nodes.map((n) => n.index);
  const before = sumCounts(lab);
  const cpu0 = indexes.map((i) => cpuSeconds([nodePid(lab, i)]));
  const t0 = Date.now();
  progress(`    idle for ${seconds} s`);
  await sleep(seconds * 1000);
  const elapsed = (Date.now() - t0) / 1000;
  const cpu = indexes.map((i, k) => ((cpuSeconds([nodePid(lab, i)]) - (cpu0[k] ?? 0)) / elapsed) * 100);
  const trees = indexes.map((i) => processTree([nodePid(lab, i)]));
  return {
    idle: minus(sumCounts(lab), before),
    idleCpuPercent: median(cpu),
    rssMb: median(trees.map((t) => t.reduce((a, pid) => a + (rssBytes(pid) ?? 0), 0) / 2 ** 20)),
    sockets: median(trees.map(socketsOf)),
  };
}

async function pingPairs(lab: MeshLab): Promise<{ ok: number; tried: number }> {
  const pairs = randomPairs(lab.nodes.length, PING_PAIRS);
  const results = await Promise.all(
    pairs.map(([a, b]) => lab.exec(a, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', lab.node(b).meshAddress], 15_000)),
  );
  return { ok: results.filter((r) => r.code === 0).length, tried: pairs.length };
}

async function churn(lab: MeshLab, opts: ScaleOptions, progress: Progress): Promise<Pick<ScaleResult, 'killed' | 'groomSeconds' | 'rejoinSeconds' | 'churn'>> {
  const n = lab.nodes.length;
  const count = Math.max(1, Math.round(n / 10));
  // Never node 0: everyone bootstraps from it, and its loss is a different test.
  const victims = [...Array(n - 1).keys()].map((i) => i + 1).sort(() => Math.random() - 0.5).slice(0, count);
  const survivors = lab.nodes.map((x) => x.index).filter((i) => !victims.includes(i));
  const goneIds = new Set(await Promise.all(victims.map((i) => lab.nodeId(i))));
  const before = sumCounts(lab);
  progress(`    kill -9 of ${count} nodes (${victims.join(', ')})`);
  for (const i of victims) killPid(nodePid(lab, i), 'SIGKILL');
  const groomSeconds = await waitGroomed(lab, survivors, goneIds, opts.meshTimeoutSeconds);
  progress(`    survivors groomed them in ${groomSeconds === null ? 'more than the bound' : `${fmt(groomSeconds, 1)} s`}; restarting them`);
  for (const i of victims) await lab.exec(i, 'ip', ['link', 'del', 'tun1'], 5000);
  await Promise.all(victims.map((i) => lab.start(i, 60_000)));
  const back = await waitFullMesh(lab, lab.nodes.map((x) => x.index), opts.meshTimeoutSeconds, progress, 'rejoin');
  return { killed: count, groomSeconds, rejoinSeconds: back.seconds, churn: minus(sumCounts(lab), before) };
}

async function runSize(n: number, opts: ScaleOptions, progress: Progress): Promise<ScaleResult> {
  const result: ScaleResult = { nodes: n, convergeSeconds: null, linksUp: 0, idleSeconds: opts.idleSeconds };
  const lab = await MeshLab.create({ tag: uniquePrefix('scl'), nodes: n, workers: 1, timing: ORIGINAL_TIMING, logLevel: 'info' });
  try {
    progress(`  ${n} nodes: starting together`);
    await Promise.all(lab.nodes.map((x) => lab.start(x.index, 120_000)));
    const coldBase = { failedRegistrations: 0, timedOut: 0, removals: 0, sessionFailures: 0, deferred: 0 };
    const mesh = await waitFullMesh(lab, lab.nodes.map((x) => x.index), opts.meshTimeoutSeconds, progress, 'cold start');
    result.convergeSeconds = mesh.seconds;
    result.linksUp = mesh.up;
    result.coldStart = minus(sumCounts(lab), coldBase);
    progress(`    full mesh ${mesh.seconds === null ? `NOT reached in ${opts.meshTimeoutSeconds} s (${mesh.up}/${n * (n - 1)} links)` : `in ${fmt(mesh.seconds, 1)} s`} after the last node listened`);
    if (mesh.seconds === null) return result;
    Object.assign(result, await measureIdle(lab, opts.idleSeconds, progress));
    const pings = await pingPairs(lab);
    result.pingPairsOk = pings.ok;
    result.pingPairs = pings.tried;
    Object.assign(result, await churn(lab, opts, progress));
    return result;
  } catch (err) {
    result.error = errorMessage(err);
    return result;
  } finally {
    await lab.cleanup();
  }
}

export async function runScale(opts: ScaleOptions, progress: Progress): Promise<ScaleResult[]> {
  const results: ScaleResult[] = [];
  for (const n of opts.sizes) results.push(await runSize(n, opts, progress));
  return results;
}

const secs = (v: number | null | undefined): string => (v === null || v === undefined ? 'n/a' : fmt(v, 1));
const cnt = (c: LogCounts | undefined): string => (c ? `${c.failedRegistrations} / ${c.timedOut} / ${c.removals}` : 'n/a');

export function scaleTable(results: ScaleResult[]): string {
  const rows = results.map((r) => [
    String(r.nodes),
    r.convergeSeconds === null ? `not in bound (${r.linksUp}/${r.nodes * (r.nodes - 1)})` : secs(r.convergeSeconds),
    cnt(r.coldStart),
    cnt(r.idle),
    r.idleCpuPercent === undefined ? 'n/a' : fmt(r.idleCpuPercent, 2),
    r.rssMb === undefined ? 'n/a' : fmt(r.rssMb, 1),
    r.sockets === undefined ? 'n/a' : String(r.sockets),
    r.pingPairs ? `${r.pingPairsOk}/${r.pingPairs}` : 'n/a',
    r.killed ? `${r.killed}: ${secs(r.groomSeconds)} / ${secs(r.rejoinSeconds)}` : 'n/a',
    cnt(r.churn),
  ]);
  return renderTable([
    ['nodes', 'full mesh (s)', 'cold: failed / timed out / removed', `idle ${results[0]?.idleSeconds ?? ''} s: failed / timed out / removed`, 'idle CPU %/node', 'RSS MB/node', 'sockets/node', 'pings', 'killed: groomed / back (s)', 'churn: failed / timed out / removed'],
    ...rows,
  ]) + results.filter((r) => r.error).map((r) => `\n${r.nodes} nodes: ${r.error}`).join('');
}
