// `npm run bench -- --simulate`: the control plane at sizes one machine cannot run as real
// nodes (100, 300, 1000). Every node is the real Membership and Registry (mesh/), with the real
// Pacer, driven by a virtual clock (virtual-clock.ts) over an in-memory transport
// (memory-transport.ts), under the same timings as `--scale`. Per size:
//   1. cold start - all nodes start together, bootstrapping from node 0: virtual time until
//                   every node knows every other one, in re-registration intervals ("rounds")
//   2. steady     - a 5-minute window of the converged mesh, one re-registration interval after
//                   it converged: messages and bytes per node per minute (the keep-alive cost,
//                   which keepalive_rate bounds)
//   3. churn      - 10% of the nodes killed and as many new ones started: rounds until no
//                   survivor lists a dead node and every node knows every new one
// What it does not model is CPU: every request is answered after one round trip of latency.
// So its rounds are the protocol's, a lower bound on what starved real nodes need (`--scale`
// measures those at 16..64 nodes on this machine).
// What the harness itself costs is kept small so that 1000 nodes fit in one process: the clock
// waits on the microtask queue, not the event loop (virtual-clock.ts); convergence is counted
// from the registries' events, not scanned (census.ts); logs below error are dropped before
// winston; errors carry no stack traces; and each distinct URL string is parsed once (url-memo.ts: membership's own URL
// comparison per remote entry was half the CPU; the calls are counted and reported).
import { Writable } from 'node:stream';
import { createIdentity } from '../../mesh/identity.js';
import { keepFactor, Membership } from '../../mesh/membership.js';
import { Registry } from '../../mesh/registry.js';
import type { MeshTiming } from '../../mesh/timing.js';
import { DEFAULT_KEEPALIVE_RATE } from '../../config/schema.js';
import { createLogger } from '../../log/logger.js';
import type { Logger } from '../../log/logger.js';
import { VirtualClock } from './virtual-clock.js';
import { SimNetwork, type SimEndpoint, type Traffic } from './memory-transport.js';
import { Census } from './census.js';
import { withUrlMemo, type UrlParses } from './url-memo.js';
import { authHeaderBytes, tokenCostUs, urlParseNs } from './product-costs.js';

export interface SimResult {
  nodes: number;
  keepaliveRate: number;
  /** Virtual seconds from the start to the full mesh (null: not within the bound). */
  coldSeconds: number | null;
  /** coldSeconds in configured re-registration intervals (the cold start runs before they grow). */
  coldRounds: number | null;
  coldMessagesPerNode: number;
  coldKbPerNode: number;
  steadyMessagesPerNodeMinute: number;
  steadyKbPerNodeMinute: number;
  /** Removals during the steady window (a converged mesh should have none). */
  steadyRemovals: number;
  churned: number;
  /** Virtual seconds until every node knows every new one. */
  joinedSeconds: number | null;
  /** Virtual seconds until no survivor lists a dead node. */
  groomedSeconds: number | null;
  /** Virtual seconds until both. */
  churnSeconds: number | null;
  /** churnSeconds in effective re-registration intervals. */
  churnRounds: number | null;
  /** Messages and KB each up node sent from the churn until healed. */
  churnMessagesPerNode: number;
  churnKbPerNode: number;
  /** The configured re-registration interval (seconds). */
  interval: number;
  /** The effective re-registration interval between tunmesh peers at this size (seconds). */
  effectiveInterval: number;
  /** membership's `new URL` calls per node per minute in the steady window (url-memo.ts). */
  steadyUrlParsesPerNodeMinute: number;
  /** The same during the churn, per up node (calls). */
  churnUrlParsesPerNode: number;
  /** What one parse costs on this machine (ns): with the lines above, a real node's CPU there. */
  urlParseNs: number;
  /** One token signed and verified by the real auth code, for a steady registration's body (us). */
  tokenUs: number;
  /**
   * What a real node would spend on tokens and on membership's URL comparisons in the steady
   * state (ms of CPU per minute): it takes part in 2x its sent messages' exchanges (as sender and
   * as receiver), each one token signed and one verified.
   */
  steadyTokenCpuMsPerNodeMinute: number;
  steadyUrlCpuMsPerNodeMinute: number;
  /** CPU seconds the simulation took. */
  cpuSeconds: number;
}

export interface SimOptions {
  keepaliveRate?: number;
  /** Virtual seconds each phase (cold start, churn) may take at most. */
  boundSeconds?: number;
  /** Progress lines of a long run (one per phase and per PROGRESS_EVERY virtual seconds). */
  progress?: (line: string) => void;
}

/** The original's defaults, as `--scale` runs them. */
const TIMING: MeshTiming = {
  requestTimeout: 1,
  groomInterval: 5,
  startupGrace: 0,
  bootstrapRetryInterval: 15,
  local: { reregistrationInterval: 5, staleThreshold: 30 },
  mesh: { reregistrationInterval: 30, staleThreshold: 120 },
  sessionMaxAge: 3600,
  earlyValidityWindow: 5,
  validityWindow: 30,
  sessionOverlap: 30,
  maxClockSkew: 5,
  keepaliveRate: DEFAULT_KEEPALIVE_RATE,
};
const LATENCY_S = 0.001;
const STEADY_SECONDS = 300;
const CHURN_FRACTION = 0.1;
const PROGRESS_EVERY = 60;
const PROGRESS_WALL_MS = 30_000;

interface SimNode extends SimEndpoint {
  traffic: Traffic;
  removals: number;
}

/** The simulated mesh: its nodes, their network and clock, and the census of who knows whom. */
interface World {
  n: number;
  timing: MeshTiming;
  clock: VirtualClock;
  net: SimNetwork;
  census: Census;
  log: Logger;
  nodes: SimNode[];
  bound: number;
  parses: UrlParses;
  progress: (line: string) => void;
}

interface Counts {
  messages: number;
  bytes: number;
  removals: number;
  urlCalls: number;
}

export async function simulate(n: number, opts: SimOptions = {}): Promise<SimResult> {
  const cpu0 = process.cpuUsage();
  const parses: UrlParses = { calls: 0, parsed: 0 };
  const overhead = await authHeaderBytes(urlOf(0));
  const result = await withUrlMemo(() => withoutStacks(() => run(n, opts, parses, overhead)), parses);
  const cpu = process.cpuUsage(cpu0);
  return { ...result, cpuSeconds: (cpu.user + cpu.system) / 1e6, ...(await productCosts(result, overhead)) };
}

type Measured = Omit<SimResult, 'cpuSeconds' | ProductCost>;
type ProductCost = 'urlParseNs' | 'tokenUs' | 'steadyTokenCpuMsPerNodeMinute' | 'steadyUrlCpuMsPerNodeMinute';

/** The steady state's message and URL counts turned into a real node's CPU (product-costs.ts). */
async function productCosts(r: Measured, overhead: number): Promise<Pick<SimResult, ProductCost>> {
  // A steady message's body: its bytes (request and answer) less the two auth headers, halved.
  const body = (r.steadyKbPerNodeMinute * 1024) / Math.max(1, r.steadyMessagesPerNodeMinute) / 2 - overhead;
  const tokenUs = await tokenCostUs(urlOf(0), body);
  const parseNs = urlParseNs(urlOf(r.nodes));
  return {
    urlParseNs: parseNs,
    tokenUs,
    steadyTokenCpuMsPerNodeMinute: (2 * r.steadyMessagesPerNodeMinute * tokenUs) / 1000,
    steadyUrlCpuMsPerNodeMinute: (r.steadyUrlParsesPerNodeMinute * parseNs) / 1e6,
  };
}

async function run(n: number, opts: SimOptions, parses: UrlParses, overhead: number): Promise<Measured> {
  const timing: MeshTiming = { ...TIMING, keepaliveRate: opts.keepaliveRate ?? TIMING.keepaliveRate };
  const clock = new VirtualClock();
  const world: World = {
    n,
    timing,
    clock,
    net: new SimNetwork({ clock, latency: LATENCY_S, messageOverhead: overhead }),
    census: new Census(),
    log: quietLogger(),
    nodes: [],
    bound: opts.boundSeconds ?? 1800,
    parses,
    progress: opts.progress ?? (() => undefined),
  };
  const cold = await coldStart(world);
  const steady = await steadyWindow(world);
  const churn = await churnAndHeal(world);
  for (const x of world.nodes) x.membership.stop();
  return { nodes: n, keepaliveRate: timing.keepaliveRate, interval: timing.local.reregistrationInterval, effectiveInterval: effectiveInterval(world), ...cold, ...steady, ...churn };
}

/** 1. every node started at once, bootstrapping from node 0, until the mesh is full. */
async function coldStart(w: World): Promise<Pick<SimResult, 'coldSeconds' | 'coldRounds' | 'coldMessagesPerNode' | 'coldKbPerNode'>> {
  for (let i = 0; i < w.n; i++) w.nodes[i] = startNode(w, i);
  const end = await runUntil(w, 'cold start', w.bound, () => w.census.full());
  const coldSeconds = w.census.full() ? end : null;
  const c = counts(w);
  w.progress(`    cold start: ${coldSeconds ?? 'not in bound'} s, ${fmt1(c.messages / w.n)} msgs/node`);
  return {
    coldSeconds,
    coldRounds: coldSeconds === null ? null : coldSeconds / w.timing.local.reregistrationInterval,
    coldMessagesPerNode: c.messages / w.n,
    coldKbPerNode: c.bytes / 1024 / w.n,
  };
}

/**
 * 2. steady: a STEADY_SECONDS window, one effective interval after the full mesh (in which every
 * pair's exchange carried the final view: the tail of the cold start).
 */
async function steadyWindow(w: World): Promise<Pick<SimResult, 'steadyMessagesPerNodeMinute' | 'steadyKbPerNodeMinute' | 'steadyRemovals' | 'steadyUrlParsesPerNodeMinute'>> {
  await w.clock.run(w.clock.now() + effectiveInterval(w));
  const before = counts(w);
  await runUntil(w, 'steady', w.clock.now() + STEADY_SECONDS, () => false);
  const after = counts(w);
  const perNodeMinute = (k: keyof Counts): number => (after[k] - before[k]) / w.n / (STEADY_SECONDS / 60);
  const r = {
    steadyMessagesPerNodeMinute: perNodeMinute('messages'),
    steadyKbPerNodeMinute: perNodeMinute('bytes') / 1024,
    steadyRemovals: after.removals - before.removals,
    steadyUrlParsesPerNodeMinute: perNodeMinute('urlCalls'),
  };
  w.progress(`    steady: ${fmt1(r.steadyMessagesPerNodeMinute)} msgs/node/min, ${fmt1(r.steadyKbPerNodeMinute)} KB/node/min, ${r.steadyRemovals} removals`);
  return r;
}

/** 3. churn: 10% killed, as many new nodes at new URLs (node 0, the bootstrap node, stays), until healed. */
async function churnAndHeal(w: World): Promise<Pick<SimResult, 'churned' | 'joinedSeconds' | 'groomedSeconds' | 'churnSeconds' | 'churnRounds' | 'churnMessagesPerNode' | 'churnKbPerNode' | 'churnUrlParsesPerNode'>> {
  const churned = Math.max(1, Math.round(w.n * CHURN_FRACTION));
  const victims = Array.from({ length: churned }, (_, k) => w.nodes[1 + Math.floor((k * (w.n - 1)) / churned)]!);
  for (const v of victims) {
    v.up = false;
    v.membership.stop();
  }
  w.census.killed(
    victims.map((v) => v.identity.id),
    (id) => w.nodes.filter((x) => x.up && x.registry.get(id)).map((x) => x.identity.id),
  );
  const before = counts(w);
  for (let k = 0; k < churned; k++) w.nodes.push(startNode(w, w.n + k));
  const t0 = w.clock.now();
  let joinedSeconds: number | null = null;
  let groomedSeconds: number | null = null;
  const healed = (): boolean => {
    if (joinedSeconds === null && w.census.full()) joinedSeconds = w.clock.now() - t0;
    if (groomedSeconds === null && w.census.groomed()) groomedSeconds = w.clock.now() - t0;
    return joinedSeconds !== null && groomedSeconds !== null;
  };
  const end = await runUntil(w, 'churn', t0 + w.bound, healed);
  const churnSeconds = healed() ? end - t0 : null;
  const after = counts(w);
  const upNodes = w.nodes.filter((x) => x.up).length;
  w.progress(`    churn ${churned}: joined ${joinedSeconds ?? 'not in bound'} s, groomed ${groomedSeconds ?? 'not in bound'} s`);
  return {
    churned,
    joinedSeconds,
    groomedSeconds,
    churnSeconds,
    churnRounds: churnSeconds === null ? null : churnSeconds / effectiveInterval(w),
    churnMessagesPerNode: (after.messages - before.messages) / upNodes,
    churnKbPerNode: (after.bytes - before.bytes) / 1024 / upNodes,
    churnUrlParsesPerNode: (after.urlCalls - before.urlCalls) / upNodes,
  };
}

/** A node of the real code: Registry and Membership over the in-memory transport, on the virtual clock. */
function startNode(w: World, i: number): SimNode {
  const identity = createIdentity({ listenUrl: urlOf(i), networkCidr: '198.19.0.0/16', nodeAddressCidr: `${meshAddressOf(i)}/16`, fastPath: true });
  const id = identity.id;
  const node = { identity, traffic: { messages: 0, bytes: 0 }, removals: 0, up: true } as SimNode;
  node.registry = new Registry(() => 'local', () => ({ base: w.timing.groomInterval, max: w.timing.groomInterval }), {
    added: (peer) => w.census.added(id, peer.info.id),
    removed: (peer) => {
      node.removals++;
      w.census.removed(id, peer.info.id);
    },
    changed: () => undefined,
  });
  node.membership = new Membership({
    self: identity,
    registry: node.registry,
    api: w.net.apiFor(identity, node.traffic),
    timing: w.timing,
    groups: [{ name: 'default', urls: [urlOf(0)], retries: -1 }],
    hooks: { onRegistered: () => undefined, event: () => undefined, roundTrip: () => undefined },
    log: w.log,
    now: w.clock.now,
    timers: w.clock,
  });
  w.net.attach(node);
  w.census.started(id);
  node.membership.start();
  return node;
}

/**
 * Runs the clock in one-second steps until `done` (checked once per virtual second), with a
 * progress line every PROGRESS_EVERY virtual seconds or PROGRESS_WALL_MS of real time (a
 * 1000-node cold start is a few virtual seconds and many minutes).
 */
async function runUntil(w: World, phase: string, until: number, done: () => boolean): Promise<number> {
  const cpu0 = process.cpuUsage();
  let nextVirtual = w.clock.now() + PROGRESS_EVERY;
  let nextWall = Date.now() + PROGRESS_WALL_MS;
  while (w.clock.now() < until) {
    await w.clock.run(w.clock.now() + 1);
    if (done()) return w.clock.now();
    if (w.clock.now() < nextVirtual && Date.now() < nextWall) continue;
    nextVirtual = w.clock.now() + PROGRESS_EVERY;
    nextWall = Date.now() + PROGRESS_WALL_MS;
    const cpu = process.cpuUsage(cpu0);
    w.progress(`    ${phase}: virtual ${Math.round(w.clock.now())} s, ${fmt1((cpu.user + cpu.system) / 1e6)} s of CPU in this phase, ${w.census.describe()}`);
  }
  return w.clock.now();
}

/**
 * Errors made without stack traces while `work` runs: a simulated mesh makes one per refused
 * connection (PeerUnreachable for every killed node, from every survivor) and reads none.
 */
async function withoutStacks<T>(work: () => Promise<T>): Promise<T> {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return await work();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function effectiveInterval(w: World): number {
  const interval = w.timing.local.reregistrationInterval;
  return interval * keepFactor(w.n - 1, w.timing.keepaliveRate, interval);
}

function counts(w: World): Counts {
  return {
    messages: sum(w.nodes, (x) => x.traffic.messages),
    bytes: sum(w.nodes, (x) => x.traffic.bytes),
    removals: sum(w.nodes, (x) => x.removals),
    urlCalls: w.parses.calls,
  };
}

function sum<T>(xs: T[], f: (x: T) => number): number {
  return xs.reduce((a, x) => a + f(x), 0);
}

function fmt1(x: number): string {
  return x.toFixed(1);
}

/**
 * The real logger at level error, its info/warn/debug dropped before winston: a simulated mesh
 * logs every join and failed registration of N nodes, which winston would format and filter
 * one by one (~2% of a run) only to throw away.
 */
function quietLogger(): Logger {
  const log = createLogger('error', 'json', new Writable({ write: (_c, _e, cb) => cb() }));
  const drop = (): Logger => log;
  log.info = drop;
  log.warn = drop;
  log.debug = drop;
  return log;
}

/** Underlay 198.18.x.x and mesh 198.19.x.x, as the lab's (never dialled: in memory). */
function urlOf(i: number): string {
  return `https://198.18.${Math.floor(i / 250)}.${10 + (i % 250)}:4567`;
}

function meshAddressOf(i: number): string {
  return `198.19.${Math.floor((i + 1) / 256)}.${(i + 1) % 256}`;
}

/** The exponent b of y = a * N^b, least squares over log-log points (null with fewer than two). */
export function growthExponent(points: Array<{ n: number; y: number }>): number | null {
  const p = points.filter((q) => q.n > 0 && q.y > 0);
  if (p.length < 2) return null;
  const xs = p.map((q) => Math.log(q.n));
  const ys = p.map((q) => Math.log(q.y));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}
