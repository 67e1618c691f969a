// `npm run bench -- --footprint` (as root): the memory and start-up footprint of tunmesh nodes,
// on MeshLab (namespaces on a bridge, real `tunmesh run` nodes, one worker each): RSS (VmRSS) and
// PSS (smaps_rollup) of each node's main process and workers: idle 10 s after the full mesh,
// after 1 GiB through the fast path and 10 s later, in 2-, 8- and 16-node meshes 60 s after
// spawning (cost per extra peer), with 1 and N workers (cost per extra worker); start-up time to
// /health/live and /health/ready; and a bare `node` process as the floor. Each node runs in a
// memory cgroup of its own, so its working set is also read as its container would report it
// (memory-cgroup.ts). Each lab is cleaned up before the next one starts; SIGINT and the watchdog
// in main.ts go through killFootprintNow().
import { rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { MeshLab } from '../lab/mesh-lab.js';
import { killPid, uniquePrefix, waitFor } from '../lab/netns.js';
import { errorMessage } from '../log/error-message.js';
import { kbField, processTree, readOptional, rssBytes } from './proc.js';
import { createMemoryCgroup, type MemoryCgroup } from './memory-cgroup.js';
import { fmt, median, renderTable } from './stats.js';

const MB = 2 ** 20;
/** How long a mesh sits idle after forming (and after the transfer) before memory is read. */
const SETTLE_MS = 10_000;
/**
 * The meshes of 2, 8 and 16 are read at the same node age (and at least SETTLE_MS after the full
 * mesh): an idle node's main process drops ~7 MB some 25-35 s after start (V8 shrinking its
 * heap), so reading them at different ages would show that drop, not the cost of peers.
 */
const MESH_AGE_MS = 60_000;
const TRANSFER_BYTES = 2 ** 30;
const STARTUP_RUNS = 5;
const POLL_MS = 20;
const START_TIMEOUT_MS = 90_000;
const MESH_TIMEOUT_MS = 120_000;
const HEALTH_TIMEOUT_MS = 60_000;
/** The benchmark's tunmesh timing (src/bench/topology.ts): quick bootstrap, calmer re-registration. */
const LAB_TIMING = { groomInterval: 2, reregistration: 5, stale: 30 };
/** Mesh sizes for the per-peer cost: 1, 7 and 15 peers. */
const MESH_SIZES = [2, 8, 16] as const;

export type Progress = (msg: string) => void;

export interface ProcessMemory {
  pid: number;
  rssBytes: number;
  /** Proportional set size: shared pages split among the processes mapping them (null: no smaps_rollup). */
  pssBytes: number | null;
  /** Private_Clean + Private_Dirty: what this process alone holds (null: no smaps_rollup). */
  privateBytes: number | null;
  /** RssFile: resident file pages (the node binary, libraries), shared with every node process. */
  rssFileBytes: number | null;
}

export interface NodeMemory {
  node: number;
  main: ProcessMemory;
  workers: ProcessMemory[];
  /** The working set of the node's memory cgroup (null: no cgroup could be made). */
  containerBytes: number | null;
}

/** One node's figures in bytes; the worker columns are the sum over its workers. */
export interface Figures {
  mainRss: number | null;
  mainPss: number | null;
  workersRss: number | null;
  workersPss: number | null;
  nodeRss: number | null;
  nodePss: number | null;
  /** The node's cgroup working set: what its container would report. */
  container: number | null;
}

export interface MeshMemory {
  nodes: number;
  peers: number;
  /** From spawning all nodes at once to the last one answering its status socket. */
  startMs: number;
  /** From then to the full mesh (null: not reached). */
  fullMeshMs: number | null;
  /** From spawning to reading memory. */
  ageMs: number;
  note?: string;
  median: Figures;
  max: Figures;
  perNode: NodeMemory[];
}

export interface TransferMemory {
  bytes: number;
  seconds: number;
  mbps: number;
  intact: boolean;
  /** Node 0 (sender) and node 1 (receiver) right after the transfer, and SETTLE_MS later. */
  after: NodeMemory[];
  later: NodeMemory[];
}

export interface WorkersMemory {
  workers: number;
  /** Mean over the two nodes, idle, with one worker and with `workers`. */
  one: Figures;
  many: Figures;
  perExtraWorker: Figures;
  perNode: NodeMemory[];
}

export interface StartupTimes {
  liveMs: number[];
  readyMs: number[];
}

export interface FootprintResult {
  /** A bare `node -e "setTimeout(()=>{},1e9)"`. */
  floor: ProcessMemory | null;
  /** A 2-node mesh, one worker each, SETTLE_MS after the full mesh. */
  idle: NodeMemory[] | null;
  transfer: TransferMemory | null;
  meshes: MeshMemory[];
  workers: WorkersMemory | null;
  startup: StartupTimes | null;
  /** /proc/loadavg (1, 5, 15 min) when the run started and ended: the machine's other load. */
  load: { start: number[]; end: number[] };
  errors: string[];
}

// ---- pure helpers (unit-tested) ----

/** The PIDs of /proc/<pid>/task/<tid>/children ("123 456 "). */
export function parseChildPids(text: string): number[] {
  return text
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

/** PSS and private bytes of a /proc/<pid>/smaps_rollup text. */
export function parseSmapsRollup(text: string): { pssBytes: number | null; privateBytes: number | null } {
  const clean = kbField(text, 'Private_Clean');
  const dirty = kbField(text, 'Private_Dirty');
  return { pssBytes: kbField(text, 'Pss') ?? null, privateBytes: clean === undefined || dirty === undefined ? null : clean + dirty };
}

const sumOrNull = (xs: readonly (number | null)[]): number | null => (xs.some((x) => x === null) ? null : xs.reduce<number>((a, x) => a + (x ?? 0), 0));

export function figuresOf(n: NodeMemory): Figures {
  const workersRss = n.workers.reduce((a, w) => a + w.rssBytes, 0);
  const workersPss = sumOrNull(n.workers.map((w) => w.pssBytes));
  return {
    mainRss: n.main.rssBytes,
    mainPss: n.main.pssBytes,
    workersRss,
    workersPss,
    nodeRss: n.main.rssBytes + workersRss,
    nodePss: sumOrNull([n.main.pssBytes, workersPss]),
    container: n.containerBytes,
  };
}

const FIGURE_KEYS: readonly (keyof Figures)[] = ['mainRss', 'mainPss', 'workersRss', 'workersPss', 'nodeRss', 'nodePss', 'container'];

/** Applies `f` per column over several nodes' figures (null where any node lacks the column). */
export function combineFigures(list: readonly Figures[], f: (xs: number[]) => number): Figures {
  const out = {} as Figures;
  for (const k of FIGURE_KEYS) {
    const xs = list.map((x) => x[k]);
    out[k] = xs.length === 0 || xs.some((x) => x === null) ? null : f(xs as number[]);
  }
  return out;
}

export const mean = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0) / xs.length;
const max = (xs: readonly number[]): number => Math.max(...xs);

/** (b - a) / steps per column: the cost of one more peer or worker. */
export function slopeFigures(a: Figures, b: Figures, steps: number): Figures {
  const out = {} as Figures;
  for (const k of FIGURE_KEYS) {
    const x = a[k];
    const y = b[k];
    out[k] = x === null || y === null || steps === 0 ? null : (y - x) / steps;
  }
  return out;
}

const mb = (v: number | null): string => fmt(v === null ? null : v / MB, 1);
const figureCells = (f: Figures): string[] => FIGURE_KEYS.map((k) => mb(f[k]));

function memoryRows(r: FootprintResult): string[][] {
  const rows: string[][] = [];
  if (r.floor !== null) {
    rows.push(['bare `node` process (floor)', mb(r.floor.rssBytes), mb(r.floor.pssBytes), '', '', '', '', '']);
    rows.push(['of which file pages (node binary, libraries: once per pod)', mb(r.floor.rssFileBytes), '', '', '', '', '', '']);
  }
  const nodeRow = (label: string, n: NodeMemory | undefined): void => {
    if (n !== undefined) rows.push([label, ...figureCells(figuresOf(n))]);
  };
  nodeRow(`idle, 2 nodes, ${SETTLE_MS / 1000} s after full mesh: node 0`, r.idle?.[0]);
  nodeRow(`idle, 2 nodes, ${SETTLE_MS / 1000} s after full mesh: node 1`, r.idle?.[1]);
  nodeRow('right after 1 GiB: sender', r.transfer?.after[0]);
  nodeRow('right after 1 GiB: receiver', r.transfer?.after[1]);
  nodeRow(`${SETTLE_MS / 1000} s later: sender`, r.transfer?.later[0]);
  nodeRow(`${SETTLE_MS / 1000} s later: receiver`, r.transfer?.later[1]);
  for (const m of r.meshes) {
    const label = `${m.peers} peer${m.peers === 1 ? '' : 's'} (${m.nodes} nodes, ${(m.ageMs / 1000).toFixed(0)} s old)${m.fullMeshMs === null ? ' NO FULL MESH' : ''}`;
    rows.push([`${label}, median`, ...figureCells(m.median)]);
    rows.push([`${label}, max`, ...figureCells(m.max)]);
  }
  for (let i = 1; i < r.meshes.length; i++) {
    const a = r.meshes[i - 1] as MeshMemory;
    const b = r.meshes[i] as MeshMemory;
    rows.push([`per extra peer, ${a.peers} -> ${b.peers} peers (medians)`, ...figureCells(slopeFigures(a.median, b.median, b.peers - a.peers))]);
  }
  if (r.workers !== null) {
    const w = r.workers;
    rows.push(['idle, 1 worker (mean of 2 nodes)', ...figureCells(w.one)]);
    rows.push([`idle, ${w.workers} workers (mean of 2 nodes)`, ...figureCells(w.many)]);
    rows.push(['per extra worker', ...figureCells(w.perExtraWorker)]);
  }
  return rows;
}

function timeRows(r: FootprintResult): string[][] {
  const rows: string[][] = [];
  const spread = (label: string, xs: readonly number[], digits: number): void => {
    if (xs.length > 0) rows.push([label, fmt(median(xs), digits), fmt(Math.min(...xs), digits), fmt(max(xs), digits), String(xs.length)]);
  };
  if (r.startup !== null) {
    spread('start -> /health/live 200 (ms)', r.startup.liveMs, 0);
    spread('start -> /health/ready 200, one peer (ms)', r.startup.readyMs, 0);
  }
  for (const m of r.meshes) {
    spread(`${m.nodes} nodes spawned at once -> all answer (s)`, [m.startMs / 1000], 1);
    if (m.fullMeshMs !== null) spread(`then -> full mesh of ${m.nodes} (s)`, [m.fullMeshMs / 1000], 1);
  }
  if (r.transfer !== null) spread(`1 GiB fast path node 0 -> node 1 (Mbit/s)${r.transfer.intact ? '' : ' CORRUPT'}`, [r.transfer.mbps], 0);
  return rows;
}

/** Two Markdown tables: memory (MB = 2^20 bytes), then times and throughput. */
export function footprintTables(r: FootprintResult): string {
  const memHead = ['memory (MB)', 'main RSS', 'main PSS', 'workers RSS', 'workers PSS', 'node RSS', 'node PSS', 'container WS'];
  const timeHead = ['time / throughput', 'median', 'min', 'max', 'runs'];
  return `${renderTable([memHead, ...memoryRows(r)])}\n\n${renderTable([timeHead, ...timeRows(r)])}`;
}

// ---- /proc readers ----

export function processMemory(pid: number): ProcessMemory {
  const rss = rssBytes(pid);
  if (rss === undefined) throw new Error(`process ${pid} is gone`);
  const rollup = readOptional(`/proc/${pid}/smaps_rollup`);
  const rssFileBytes = kbField(readOptional(`/proc/${pid}/status`) ?? '', 'RssFile') ?? null;
  return { pid, rssBytes: rss, rssFileBytes, ...(rollup === undefined ? { pssBytes: null, privateBytes: null } : parseSmapsRollup(rollup)) };
}

const commOf = (pid: number): string | undefined => readOptional(`/proc/${pid}/comm`)?.trim();

/** The main process's worker processes: its children running the same program (not a passing `ip`). */
export function workerPids(mainPid: number): number[] {
  const kids = parseChildPids(readOptional(`/proc/${mainPid}/task/${mainPid}/children`) ?? '');
  const comm = commOf(mainPid);
  return kids.filter((k) => commOf(k) === comm);
}

function nodeMemory(lab: MeshLab, i: number): NodeMemory {
  const pid = lab.node(i).process?.child.pid;
  if (pid === undefined) throw new Error(`node ${i} is not running`);
  const containerBytes = live.cgroups.get(lab)?.[i]?.workingSetBytes() ?? null;
  return { node: i, main: processMemory(pid), workers: workerPids(pid).map(processMemory), containerBytes };
}

const allNodesMemory = (lab: MeshLab): NodeMemory[] => lab.nodes.map((n) => nodeMemory(lab, n.index));

function loadavg(): number[] {
  return (readOptional('/proc/loadavg') ?? '').split(' ').slice(0, 3).map(Number);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- labs ----

/** Labs and processes of this run, for a synchronous kill on SIGINT / the watchdog. */
const live = { labs: new Set<MeshLab>(), pids: new Set<number>(), cgroups: new Map<MeshLab, MemoryCgroup[]>() };

/** SIGKILLs every node (and its workers) and helper process of the run; deletes the labs' folders. */
export function killFootprintNow(): void {
  for (const lab of live.labs) {
    const mains = lab.nodes.map((n) => n.process?.child.pid).filter((p): p is number => p !== undefined);
    for (const pid of processTree(mains)) killPid(pid, 'SIGKILL');
    rmSync(lab.dir, { recursive: true, force: true });
    for (const cg of live.cgroups.get(lab) ?? []) cg.remove();
  }
  for (const pid of live.pids) killPid(pid, 'SIGKILL');
}

async function withLab<T>(nodes: number, workers: number, fn: (lab: MeshLab) => Promise<T>): Promise<T> {
  const tag = uniquePrefix('fp');
  const cgroups = Array.from({ length: nodes }, (_, i) => createMemoryCgroup(`${tag}-n${i}`));
  const lab = await MeshLab.create({ tag, nodes, workers, logLevel: 'warn', timing: LAB_TIMING, cgroupOf: (i) => cgroups[i]?.path });
  live.labs.add(lab);
  live.cgroups.set(lab, cgroups.filter((c): c is MemoryCgroup => c !== undefined));
  try {
    return await fn(lab);
  } finally {
    await lab.cleanup();
    live.labs.delete(lab);
    live.cgroups.delete(lab);
    // The kernel empties a cgroup a moment after its last process exits.
    await sleep(500);
    for (const cg of cgroups) cg?.remove();
  }
}

/** Starts every node at once, then waits (bounded) for the full mesh; fullMeshMs null: not reached. */
async function startMesh(lab: MeshLab, progress: Progress): Promise<{ startMs: number; fullMeshMs: number | null }> {
  const n = lab.nodes.length;
  const t0 = Date.now();
  await Promise.all(lab.nodes.map((node) => lab.start(node.index, START_TIMEOUT_MS)));
  const startMs = Date.now() - t0;
  progress(`  ${n} nodes answer their status sockets after ${(startMs / 1000).toFixed(1)} s`);
  return { startMs, fullMeshMs: await waitForMesh(lab, progress) };
}

async function waitForMesh(lab: MeshLab, progress: Progress): Promise<number | null> {
  const n = lab.nodes.length;
  let lastReport = Date.now();
  const onProgress = (up: number, want: number): void => {
    if (Date.now() - lastReport < 5000) return;
    lastReport = Date.now();
    progress(`  ${n} nodes: links up ${up}/${want}`);
  };
  try {
    return await lab.waitForFullMesh(MESH_TIMEOUT_MS, undefined, onProgress);
  } catch (err) {
    progress(`  ${n} nodes: ${errorMessage(err)}`);
    return null;
  }
}

async function settle(progress: Progress, what: string, ms = SETTLE_MS): Promise<void> {
  progress(`${what}: idle ${(ms / 1000).toFixed(0)} s`);
  await sleep(ms);
}

// ---- measurements ----

/** RSS/PSS of a bare Node process that does nothing, 2 s after it started. */
async function measureFloor(): Promise<ProcessMemory> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(()=>{},1e9)'], { stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn node');
  live.pids.add(pid);
  try {
    await sleep(2000);
    return processMemory(pid);
  } finally {
    killPid(pid, 'SIGKILL');
    live.pids.delete(pid);
  }
}

/** 2 nodes, idle memory; then 1 GiB node 0 -> node 1 and memory right after and SETTLE_MS later. */
async function measureIdleAndTransfer(r: FootprintResult, progress: Progress): Promise<void> {
  await withLab(2, 1, async (lab) => {
    progress('idle + transfer: starting 2 nodes (1 worker each)');
    if ((await startMesh(lab, progress)).fullMeshMs === null) throw new Error('2 nodes: no full mesh');
    await settle(progress, 'idle + transfer');
    r.idle = allNodesMemory(lab);
    progress(`idle + transfer: sending ${TRANSFER_BYTES / MB} MiB node 0 -> node 1 (fast path)`);
    const t = await lab.transfer(0, 1, TRANSFER_BYTES);
    const after = allNodesMemory(lab);
    progress(`idle + transfer: ${t.mbps.toFixed(0)} Mbit/s, checksum ${t.intact ? 'intact' : 'WRONG'}`);
    await settle(progress, 'idle + transfer');
    r.transfer = { bytes: t.bytes, seconds: t.seconds, mbps: t.mbps, intact: t.intact, after, later: allNodesMemory(lab) };
  });
}

/** An n-node mesh, one worker each: memory at MESH_AGE_MS (>= SETTLE_MS after the full mesh), median and max over nodes. */
async function measureMesh(n: number, progress: Progress): Promise<MeshMemory> {
  return withLab(n, 1, async (lab) => {
    progress(`mesh of ${n}: starting ${n} nodes`);
    const spawned = Date.now();
    const { startMs, fullMeshMs } = await startMesh(lab, progress);
    await settle(progress, `mesh of ${n}`, Math.max(SETTLE_MS, spawned + MESH_AGE_MS - Date.now()));
    const perNode = allNodesMemory(lab);
    const figures = perNode.map(figuresOf);
    return {
      nodes: n,
      peers: n - 1,
      startMs,
      fullMeshMs,
      ageMs: Date.now() - spawned,
      ...(fullMeshMs === null ? { note: `no full mesh within ${MESH_TIMEOUT_MS / 1000} s; measured anyway` } : {}),
      median: combineFigures(figures, median),
      max: combineFigures(figures, max),
      perNode,
    };
  });
}

/** Idle 2-node meshes with 1 and with `workers` workers per node: the cost of one more worker. */
async function measureWorkers(workers: number, one: NodeMemory[], progress: Progress): Promise<WorkersMemory> {
  return withLab(2, workers, async (lab) => {
    progress(`workers: starting 2 nodes with ${workers} workers each`);
    if ((await startMesh(lab, progress)).fullMeshMs === null) throw new Error(`2 nodes with ${workers} workers: no full mesh`);
    await settle(progress, 'workers');
    const perNode = allNodesMemory(lab);
    const found = perNode.map((n) => n.workers.length);
    if (found.some((c) => c !== workers)) throw new Error(`expected ${workers} workers per node, found ${found.join(', ')}`);
    const oneMean = combineFigures(one.map(figuresOf), mean);
    const manyMean = combineFigures(perNode.map(figuresOf), mean);
    return { workers, one: oneMean, many: manyMean, perExtraWorker: slopeFigures(oneMean, manyMean, workers - 1), perNode };
  });
}

/** Polls GET <path> from inside node i's namespace every POLL_MS until 200; returns ms since `t0`. */
async function msUntil200(lab: MeshLab, i: number, path: string, t0: number): Promise<number> {
  const url = lab.node(i).url + path;
  return waitFor(
    async () => {
      if (!lab.isRunning(i)) throw new Error(`node ${i} exited: ${lab.logTail(i, 500)}`);
      const r = await lab.curl(i, ['--max-time', '2', url]);
      return r.status === 200 ? Date.now() - t0 : undefined;
    },
    { timeoutMs: HEALTH_TIMEOUT_MS, intervalMs: POLL_MS, what: `node ${i} ${path} 200` },
  );
}

/** Node 0 runs; node 1 is started STARTUP_RUNS times: ms from spawn to live and to ready. */
async function measureStartup(progress: Progress): Promise<StartupTimes> {
  return withLab(2, 1, async (lab) => {
    progress(`start-up: node 0 runs, node 1 started ${STARTUP_RUNS} times`);
    await lab.start(0, START_TIMEOUT_MS);
    const out: StartupTimes = { liveMs: [], readyMs: [] };
    for (let run = 1; run <= STARTUP_RUNS; run++) {
      const t0 = Date.now();
      const started = lab.start(1, START_TIMEOUT_MS);
      started.catch(() => undefined); // awaited below; a failed poll must not leave it unhandled
      out.liveMs.push(await msUntil200(lab, 1, '/health/live', t0));
      out.readyMs.push(await msUntil200(lab, 1, '/health/ready', t0));
      await started;
      progress(`start-up ${run}/${STARTUP_RUNS}: live ${out.liveMs.at(-1)} ms, ready ${out.readyMs.at(-1)} ms`);
      await lab.stop(1, 'SIGTERM', 15_000);
      await waitFor(async () => (await lab.exec(1, 'ip', ['link', 'show', 'tm0'], 5000)).code !== 0, { timeoutMs: 10_000, intervalMs: 100, what: 'tm0 of node 1 to be removed' });
    }
    return out;
  });
}

/** Runs one part; a failure is recorded and the run goes on with the next part. */
async function part(r: FootprintResult, name: string, progress: Progress, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const msg = `${name}: ${errorMessage(err)}`;
    progress(`FAILED ${msg}`);
    r.errors.push(msg);
  }
}

/** The whole footprint run; `workers` > 1 adds the per-extra-worker comparison. */
export async function runFootprint(workers: number, progress: Progress): Promise<FootprintResult> {
  const r: FootprintResult = { floor: null, idle: null, transfer: null, meshes: [], workers: null, startup: null, load: { start: loadavg(), end: [] }, errors: [] };
  await part(r, 'floor', progress, async () => {
    progress('floor: a bare node process');
    r.floor = await measureFloor();
  });
  await part(r, 'idle + transfer', progress, () => measureIdleAndTransfer(r, progress));
  if (workers > 1) {
    await part(r, 'workers', progress, async () => {
      if (r.idle === null) throw new Error('no 1-worker idle figures to compare with');
      r.workers = await measureWorkers(workers, r.idle, progress);
    });
  }
  await part(r, 'start-up', progress, async () => {
    r.startup = await measureStartup(progress);
  });
  for (const n of MESH_SIZES) {
    await part(r, `mesh of ${n}`, progress, async () => {
      r.meshes.push(await measureMesh(n, progress));
    });
  }
  r.load.end = loadavg();
  return r;
}
