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
import { Writable } from 'node:stream';
import { createIdentity } from '../../mesh/identity.js';
import { keepFactor, Membership } from '../../mesh/membership.js';
import { Registry } from '../../mesh/registry.js';
import type { MeshTiming } from '../../mesh/timing.js';
import { createLogger } from '../../log/logger.js';
import { clusterKey } from '../../auth/keys.js';
import { signToken } from '../../auth/tokens.js';
import { formatAuthHeader } from '../../auth/header.js';
import { VirtualClock } from './virtual-clock.js';
import { SimNetwork, type SimEndpoint, type Traffic } from './memory-transport.js';

export interface SimResult {
  nodes: number;
  keepaliveRate: number;
  /** Virtual seconds from the start to the full mesh (null: not within the bound). */
  coldSeconds: number | null;
  /** coldSeconds in configured re-registration intervals (the cold start runs before they grow). */
  coldRounds: number | null;
  coldMessagesPerNode: number;
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
  /** The configured re-registration interval (seconds). */
  interval: number;
  /** The effective re-registration interval between tunmesh peers at this size (seconds). */
  effectiveInterval: number;
  /** CPU seconds the simulation took. */
  cpuSeconds: number;
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
  keepaliveRate: 3,
};
const LATENCY_S = 0.001;
const STEADY_SECONDS = 300;
const CHURN_FRACTION = 0.1;
const SECRET = 'simulation-cluster-secret-0123456789abcdef';

interface SimNode extends SimEndpoint {
  traffic: Traffic;
  removals: number;
}

export async function simulate(n: number, opts: { keepaliveRate?: number; boundSeconds?: number } = {}): Promise<SimResult> {
  const cpu0 = process.cpuUsage();
  const timing: MeshTiming = { ...TIMING, keepaliveRate: opts.keepaliveRate ?? TIMING.keepaliveRate };
  const bound = opts.boundSeconds ?? 1800;
  const clock = new VirtualClock();
  const overhead = await measuredOverhead();
  const net = new SimNetwork({ clock, latency: LATENCY_S, messageOverhead: overhead });
  const log = createLogger('error', 'json', new Writable({ write: (_c, _e, cb) => cb() }));
  const nodes: SimNode[] = [];
  const bootstrapUrl = urlOf(0);

  const start = (i: number): SimNode => {
    const identity = createIdentity({ listenUrl: urlOf(i), networkCidr: '198.19.0.0/16', nodeAddressCidr: `${meshAddressOf(i)}/16`, fastPath: true });
    const traffic: Traffic = { messages: 0, bytes: 0 };
    const node = { identity, traffic, removals: 0, up: true } as SimNode;
    node.registry = new Registry(() => 'local', () => ({ base: timing.groomInterval, max: timing.groomInterval }), {
      added: () => undefined,
      removed: () => void node.removals++,
      changed: () => undefined,
    });
    node.membership = new Membership({
      self: identity,
      registry: node.registry,
      api: net.apiFor(identity, traffic),
      timing,
      groups: [{ name: 'default', urls: [bootstrapUrl], retries: -1 }],
      hooks: { onRegistered: () => undefined, event: () => undefined, roundTrip: () => undefined },
      log,
      now: clock.now,
      timers: clock,
    });
    net.attach(node);
    node.membership.start();
    return node;
  };

  for (let i = 0; i < n; i++) nodes[i] = start(i);
  const full = (): boolean => fullMesh(nodes.filter((x) => x.up));
  const coldEnd = await runUntil(clock, bound, full);
  const coldSeconds = full() ? coldEnd : null;
  const coldMessages = sum(nodes, (x) => x.traffic.messages);

  // 2. steady, after one re-registration interval in which every pair's exchange carried the
  // final view (the tail of the cold start)
  const interval = timing.local.reregistrationInterval;
  const effectiveInterval = interval * keepFactor(n - 1, timing.keepaliveRate, interval);
  await clock.run(clock.now() + effectiveInterval);
  const before = snapshot(nodes);
  await clock.run(clock.now() + STEADY_SECONDS);
  const after = snapshot(nodes);
  const minutes = STEADY_SECONDS / 60;

  // 3. churn: kill 10%, start as many new nodes at new URLs (node 0, the bootstrap node, stays).
  const churned = Math.max(1, Math.round(n * CHURN_FRACTION));
  const dead = new Set<string>();
  for (let k = 0; k < churned; k++) {
    const victim = nodes[1 + Math.floor((k * (n - 1)) / churned)]!;
    victim.up = false;
    victim.membership.stop();
    dead.add(victim.identity.id);
  }
  for (let k = 0; k < churned; k++) nodes.push(start(n + k));
  const churnStart = clock.now();
  let joinedSeconds: number | null = null;
  let groomedSeconds: number | null = null;
  const healed = (): boolean => {
    if (joinedSeconds === null && full()) joinedSeconds = clock.now() - churnStart;
    if (groomedSeconds === null && nodes.every((x) => !x.up || x.registry.all().every((p) => !dead.has(p.info.id)))) groomedSeconds = clock.now() - churnStart;
    return joinedSeconds !== null && groomedSeconds !== null;
  };
  const churnEnd = await runUntil(clock, churnStart + bound, healed);
  const churnSeconds = healed() ? churnEnd - churnStart : null;
  for (const x of nodes) x.membership.stop();

  const cpu = process.cpuUsage(cpu0);
  return {
    nodes: n,
    keepaliveRate: timing.keepaliveRate,
    coldSeconds,
    coldRounds: coldSeconds === null ? null : coldSeconds / interval,
    coldMessagesPerNode: coldMessages / n,
    steadyMessagesPerNodeMinute: (after.messages - before.messages) / n / minutes,
    steadyKbPerNodeMinute: (after.bytes - before.bytes) / 1024 / n / minutes,
    steadyRemovals: after.removals - before.removals,
    churned,
    joinedSeconds,
    groomedSeconds,
    churnSeconds,
    churnRounds: churnSeconds === null ? null : churnSeconds / effectiveInterval,
    interval,
    effectiveInterval,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

/** Runs the clock in one-second steps until `done` (checked once per virtual second: it is O(N^2)). */
async function runUntil(clock: VirtualClock, until: number, done: () => boolean): Promise<number> {
  while (clock.now() < until) {
    await clock.run(clock.now() + 1);
    if (done()) return clock.now();
  }
  return clock.now();
}

function fullMesh(up: SimNode[]): boolean {
  const ids = new Set(up.map((x) => x.identity.id));
  return up.every((x) => {
    let known = 0;
    for (const p of x.registry.all()) if (ids.has(p.info.id)) known++;
    return known === ids.size - 1;
  });
}

function snapshot(nodes: SimNode[]): { messages: number; bytes: number; removals: number } {
  return { messages: sum(nodes, (x) => x.traffic.messages), bytes: sum(nodes, (x) => x.traffic.bytes), removals: sum(nodes, (x) => x.removals) };
}

function sum<T>(xs: T[], f: (x: T) => number): number {
  return xs.reduce((a, x) => a + f(x), 0);
}

/** A registration's auth header, signed by the real token code (its size is per message). */
async function measuredOverhead(): Promise<number> {
  const identity = createIdentity({ listenUrl: urlOf(0), networkCidr: '198.19.0.0/16', nodeAddressCidr: '198.19.0.1/16', fastPath: true });
  const token = await signToken({
    key: clusterKey(SECRET),
    issuer: identity.id,
    audience: identity.id,
    body: '{}',
    earlyValidity: TIMING.earlyValidityWindow,
    validity: TIMING.validityWindow,
    extraClaims: identity.tokenClaims,
  });
  return `Authorization: ${formatAuthHeader(token)}\r\n`.length;
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
