// Membership: how a node joins the mesh and keeps it whole (reference §6).
//
//   1. bootstrap  - each group registers (cluster token) to its URLs until one answers
//   2. answer     - a registration we receive adds/refreshes its sender and names others; a
//                   tunmesh sender takes our answer as our registration (one exchange per pair
//                   and interval, not two); an original one is registered back, as it expects
//   3. discover   - every node named in a `remote` list that we do not know is contacted; of two
//                   nodes that learn of each other, the lower id calls first and the other waits
//                   a groom interval for it, so a cold start does not cross every pair twice
//   4. keep       - every tick (at most 1 s): re-register to each peer when due (its interval,
//                   jittered per peer so a mesh's re-registrations spread out; between tunmesh
//                   nodes stretched in a large mesh to keepalive_rate exchanges per second)
//   5. groom      - every groom_interval: retry bootstrap, contact discovered nodes, and for a
//                   peer silent past its stale threshold send one last patient registration; it
//                   is dropped only if that fails too (grooming on real silence, not slowness)
//   6. re-adopt   - a known node that refuses our re-registration (401/404) may have restarted
//                   with a new id at the same URL: ask its URL who is there and register to that
// A bootstrap URL whose host is a DNS name (a headless Service) stands for every address the
// name has at each attempt (bootstrap-dns.ts); once bootstrapped, the name is resolved again
// every bootstrap_retry_interval and addresses no known node has are contacted, so a mesh
// that started in parts (pods that came up apart) joins up.
// Between tunmesh nodes a registration carries the `remote` list only when our view changed since
// that peer last got it (or it is due a refresh); original nodes always get the whole list.
// Requests are paced (pacer.ts) and wait as long as the peer's answers take (answer-times.ts);
// failures back off per peer (fault-tracker.ts); nothing here throws out of the loop.
import type { Logger } from '../log/logger.js';
import type { Registration, NodeInfo } from './types.js';
import type { Capabilities } from './capabilities.js';
import type { LocalIdentity } from './identity.js';
import type { Registry, RemoteNode } from './registry.js';
import type { MeshTiming } from './timing.js';
import { MeshError } from './errors.js';
import { PeerRefused, type PeerApi, type PeerTarget, type Signed } from './peer-api.js';
import { PeerUnreachable } from './http-client.js';
import { errorMessage } from '../log/error-message.js';
import { networkInterfaces } from 'node:os';
import { candidatesOf, describe, namedHost, systemResolve, urlHost, urlPort, type Candidate, type Resolve } from './bootstrap-dns.js';

export interface BootstrapGroup {
  name: string;
  urls: string[];
  /** -1 forever, 0 one attempt, N retries. */
  retries: number;
}

interface GroupState {
  group: BootstrapGroup;
  done: boolean;
  attempts: number;
  /** Attempts where a URL was slow or failed after answering (not merely refused). */
  slowAttempts: number;
  nextAttempt: number;
  registered: Set<string>;
  /** Named URLs only: when the name is resolved again once bootstrapped, and failures in a row. */
  nextResolve: number;
  resolveFailures: number;
}

/** One bootstrap attempt's account: "url: what answered" per URL, and whether one was slow. */
interface BootstrapTry {
  lines: string[];
  slow: boolean;
}

export type MembershipEvent = 'bootstrap' | 'register_sent' | 'register_received' | 'register_failed' | 'groomed' | 'discovered' | 'probed';

export interface MembershipHooks {
  /** Called when a peer knows us (it accepted our registration, or took our answer as one): open sessions. */
  onRegistered(node: RemoteNode): void;
  event(kind: MembershipEvent): void;
  /** Seconds a successful registration round trip took (TLS, auth and the peer's handling). */
  roundTrip(seconds: number): void;
  /** With reload_config_on_bootstrap: the groups as the config file says now (undefined: keep). */
  reloadGroups?(): BootstrapGroup[] | undefined;
}

/** The clock's timers (a simulation passes virtual ones). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** The keep loop's period at most (seconds): due re-registrations go out within this of their time. */
const MAX_TICK_SECONDS = 1;
/**
 * A loop that has not ticked for this long (ten ticks at least) has stopped or is stuck: /health
 * reports it. Generous, so that event-loop lag on a loaded machine is not taken for it.
 */
const LOOP_STALE_SECONDS = 10;
/** A re-registration is due after its interval times a factor drawn in [JITTER_MIN, 1]. */
const JITTER_MIN = 0.8;
/**
 * A tunmesh peer gets our whole view when it changed since the last one it got, and otherwise,
 * as a repair for anything missed, about REFRESH_FANOUT peers get it per FULL_VIEW_EVERY
 * re-registration intervals (each peer every FULL_VIEW_EVERY intervals in a small mesh).
 */
const FULL_VIEW_EVERY = 6;
const REFRESH_FANOUT = 8;

interface Discovered {
  info: NodeInfo;
  /** Not contacted before this (seconds): its turn, or a backoff after a failed contact. */
  notBefore: number;
  attempts: number;
}

/**
 * A discovered node that did not answer is tried again this many times, with backoff (capped at
 * DISCOVERED_BACKOFF_MAX groom intervals), before we wait to read of it again: in a cold start
 * it is more often busy than gone, and between tunmesh nodes its name may not come again soon
 * (remote lists go out only when a view changes).
 */
const DISCOVERED_ATTEMPTS = 8;
const DISCOVERED_BACKOFF_MAX = 4;
/** Bootstrap retries after a URL that refused (not listening yet): 1, 2, 4 .. s, up to bootstrap_retry_interval. */
const QUICK_RETRY_SECONDS = 1;
/** Refused re-registrations in a row after which a peer is probed (and, refused again, dropped) before its stale threshold. */
const REFUSALS_TO_PROBE = 2;
/** Bootstrap attempts that timed out before the retry interval starts to grow. */
const GROW_AFTER = 3;

export interface MembershipOptions {
  self: LocalIdentity;
  registry: Registry;
  api: PeerApi;
  timing: MeshTiming;
  groups: BootstrapGroup[];
  hooks: MembershipHooks;
  log: Logger;
  now: () => number;
  timers?: Timers;
  /** How bootstrap names resolve (default: the system resolver). */
  resolve?: Resolve;
  /** The addresses of this host's interfaces (default: os.networkInterfaces()). */
  ownAddresses?: () => ReadonlySet<string>;
}

/** A registration we send, with the registry version it tells and whether it lists every node. */
interface View {
  reg: Registration;
  version: number;
  whole: boolean;
}

/**
 * What of our answer a tunmesh sender does not hold already: the nodes its registration listed,
 * and itself, it knows (a node that joins gets every node's whole list otherwise: N^2 bytes for
 * it alone). Only ever leaves out what the sender named, so nothing it lacks is withheld.
 */
function notListedIn(answer: NodeInfo[], reg: Registration): NodeInfo[] {
  if (answer.length === 0) return answer;
  const known = new Set(reg.remote.map((n) => n.id)).add(reg.local.id);
  return answer.filter((n) => !known.has(n.id));
}

/** A name that keeps failing to resolve is asked again at most this often (seconds). */
const RESOLVE_BACKOFF_MAX = 300;

function interfaceAddresses(): ReadonlySet<string> {
  return new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address)));
}

export class Membership {
  private readonly self: LocalIdentity;
  private readonly registry: Registry;
  private readonly api: PeerApi;
  private readonly timing: MeshTiming;
  private readonly hooks: MembershipHooks;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly timers: Timers;
  private readonly resolve: Resolve;
  private readonly ownAddresses: () => ReadonlySet<string>;
  private readonly groups: GroupState[];
  private readonly discovered = new Map<string, Discovered>();
  private readonly contacting = new Set<string>();
  /** Peers a registration is on its way to: the loops and an answer must not send two. */
  private readonly registering = new Set<string>();
  private timer: unknown;
  private contactSoon: unknown;
  private nextGroom = 0;
  private grooming = false;
  private bootstrapping = false;
  private following = false;
  private stopped = false;
  /** When the loop last ran (seconds); undefined before start(). */
  private lastTick: number | undefined;
  readonly startedAt: number;

  constructor(o: MembershipOptions) {
    this.self = o.self;
    this.registry = o.registry;
    this.api = o.api;
    this.timing = o.timing;
    this.hooks = o.hooks;
    this.log = o.log;
    this.now = o.now;
    this.timers = o.timers ?? REAL_TIMERS;
    this.resolve = o.resolve ?? systemResolve;
    this.ownAddresses = o.ownAddresses ?? interfaceAddresses;
    this.startedAt = o.now();
    this.groups = o.groups.map((group) => this.groupState(group));
  }

  private groupState(group: BootstrapGroup): GroupState {
    return {
      group,
      done: group.urls.filter((u) => !this.isSelf(u)).length === 0,
      attempts: 0,
      slowAttempts: 0,
      nextAttempt: 0,
      registered: new Set<string>(),
      nextResolve: 0,
      resolveFailures: 0,
    };
  }

  /**
   * reload_config_on_bootstrap: take the groups as the config file now says, before a bootstrap
   * attempt. A group keeps its progress; a new or changed group starts over.
   */
  private reloadGroups(): void {
    const fresh = this.hooks.reloadGroups?.();
    if (!fresh) return;
    for (const group of fresh) {
      const known = this.groups.find((g) => g.group.name === group.name);
      if (!known) this.groups.push(this.groupState(group));
      else if (known.group.urls.join(' ') !== group.urls.join(' ') || known.group.retries !== group.retries) {
        const registered = known.registered;
        Object.assign(known, this.groupState(group), { registered });
        this.log.info('bootstrap group reloaded from config', { component: 'mesh', group: group.name, urls: group.urls });
      }
    }
  }

  get bootstrapped(): boolean {
    return this.groups.every((g) => g.done);
  }

  start(): void {
    this.stopped = false;
    this.tick();
  }

  /** Whether the loop runs: started, not stopped, and ticked within LOOP_STALE_SECONDS (/health's registrations worker). */
  loopAlive(now: number): boolean {
    return !this.stopped && this.lastTick !== undefined && now - this.lastTick <= LOOP_STALE_SECONDS;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    if (this.contactSoon !== undefined) this.timers.clearTimeout(this.contactSoon);
  }

  /**
   * Our registration for `peer`, as a view: ourselves and every node we know (to an original, a
   * peer that has no view of ours or may have lost it, or one whose refresh is due); to a tunmesh
   * peer that holds an older view of ours, ourselves and the nodes added since (what changed,
   * not the whole list: a whole list on every change made a mesh's churn bytes grow as N^2).
   * Undefined peer: the whole list. Nothing is recorded until the peer answered (delivered()).
   */
  private viewFor(peer: RemoteNode | undefined): View {
    const now = this.now();
    const version = this.registry.version;
    const reg = (remote: RemoteNode[]): Registration => ({ local: this.self.info, remote: remote.map((n) => n.info), stamp: Math.floor(now) });
    if (peer && this.holdsAView(peer, now)) {
      return { reg: reg(peer.viewSent === version ? [] : this.registry.addedSince(peer.viewSent)), version, whole: false };
    }
    return { reg: reg(this.registry.all()), version, whole: true };
  }

  /** `peer` answered the registration that carried `view`: from now on it is told what changes after it. */
  private delivered(peer: RemoteNode, view: View): void {
    peer.viewSent = view.version;
    if (view.whole) peer.fullViewAt = this.now();
  }

  /**
   * Our answer to a registration from `peer`: to an original, the whole list; to a tunmesh peer,
   * our view for it (viewFor) less what its own registration listed. It counts as told at once:
   * an answer lost with the peer's timeout leaves out only what every other node that learned
   * the same nodes tells it too (each sends its additions to all its peers), and the whole-list
   * refresh repairs the rest. Not counting answers made every answer of a pair whose other end
   * happened to start the exchanges a whole list (steady bytes x16 at 300 nodes, simulated).
   */
  private answerTo(peer: RemoteNode, reg: Registration): Registration {
    const view = this.viewFor(peer);
    if (peer.capabilities === null) return view.reg;
    this.delivered(peer, view);
    return { ...view.reg, remote: notListedIn(view.reg.remote, reg) };
  }

  /**
   * A tunmesh peer that got a view of ours (a failed registration forgets that: viewSent -1) and
   * whose refresh with the whole list is not due. Tunmesh receivers only ever add from a list,
   * so a list of what changed tells them all a whole one would.
   */
  private holdsAView(peer: RemoteNode, now: number): boolean {
    if (peer.capabilities === null) return false; // an original learns only from whole lists
    if (peer.viewSent < 0) return false;
    // Spread so that a node refreshes about REFRESH_FANOUT peers per FULL_VIEW_EVERY intervals,
    // whatever the mesh size: enough for anti-entropy, not a whole list to every peer.
    const refresh = FULL_VIEW_EVERY * this.interval(peer) * Math.max(1, this.registry.size / REFRESH_FANOUT);
    return now - peer.fullViewAt < refresh;
  }

  /** 2. answer: a registration arrived, authenticated as `senderId` with these capabilities. */
  receive(senderId: string, capabilities: Capabilities | null, reg: Registration): Registration {
    if (reg.local.id === this.self.id) throw new MeshError('registration_to_self', 'Registration to self');
    if (reg.local.id !== senderId) throw new MeshError('invalid', 'Registration local.id differs from the token issuer');
    const isNew = !this.registry.get(senderId);
    const node = this.registry.heardFrom(reg.local, capabilities, this.now());
    this.hooks.event('register_received');
    if (isNew) this.logJoined(node);
    this.learn(reg.remote);
    const answer = this.answerTo(node, reg);
    if (capabilities !== null) this.exchanged(node, isNew);
    // An original expects our registration too: register back at once so it does not wait.
    else if (node.lastSent === 0) void this.registerTo(node);
    return answer;
  }

  /** A tunmesh peer registered to us: our answer counts as our registration for this interval. */
  private exchanged(node: RemoteNode, isNew: boolean): void {
    const first = node.lastSent === 0;
    node.lastSent = this.now();
    // A peer our own last registration failed to reach keeps its retry (after the fault backoff):
    // only our request answered clears the failure. Pushed back by every exchange the peer began,
    // the retry waited for a round in which we happened to be first, and the link showed failing
    // for many intervals while both ends talked.
    if (node.faults.consecutiveFailures === 0) this.scheduleNext(node);
    if (isNew || first) this.hooks.onRegistered(node);
  }

  private scheduleNext(node: RemoteNode): void {
    const interval = this.interval(node);
    node.dueAt = node.lastSent + interval * (JITTER_MIN + Math.random() * (1 - JITTER_MIN));
  }

  /**
   * How often we exchange registrations with `node`, and how long its silence may last. Toward
   * original nodes: as configured (their side grooms by those). Between tunmesh nodes both grow
   * with the mesh once it is larger than keepalive_rate x interval, by the same factor, so a node
   * takes part in at most keepalive_rate exchanges per second however large the mesh: the mesh's
   * keep-alive work grows with N, not N^2. Each end decides alone; an exchange started by either
   * end refreshes both, so the pair exchanges at the shorter of the two intervals and neither
   * end sees the other silent for longer than its own threshold unless it really is.
   */
  private interval(node: RemoteNode): number {
    return this.timing[node.scope].reregistrationInterval * this.keepFactor(node);
  }

  private staleThreshold(node: RemoteNode): number {
    return this.timing[node.scope].staleThreshold * this.keepFactor(node);
  }

  private keepFactor(node: RemoteNode): number {
    if (node.capabilities === null) return 1;
    return keepFactor(this.registry.size, this.timing.keepaliveRate, this.timing[node.scope].reregistrationInterval);
  }

  /** 3. discover: remember nodes named by others; they are contacted at once or after a wait. */
  private learn(remote: NodeInfo[]): void {
    let fresh = false;
    const now = this.now();
    for (const info of remote) {
      // The lookups first: most entries name nodes we know, and parsing a URL costs more than
      // all of them (half a 300-node simulation's CPU went to isSelf before the lookups).
      if (info.id === this.self.id || this.registry.get(info.id) || this.discovered.has(info.id) || this.registry.refuses(info.id)) continue;
      if (this.isSelf(info.listen_url)) continue;
      fresh = true;
      // Its turn: at once when our id is the lower of the two, else after it had a groom interval to call us.
      const notBefore = this.self.id < info.id ? now : now + this.timing.groomInterval;
      this.discovered.set(info.id, { info, notBefore, attempts: 0 });
    }
    if (fresh) {
      this.hooks.event('discovered');
      this.contactSoon ??= this.timers.setTimeout(() => {
        this.contactSoon = undefined;
        this.contactDiscovered();
      }, 0);
    }
  }

  /** Contact the discovered nodes whose turn it is; one that does not answer is tried again later. */
  private contactDiscovered(): void {
    const now = this.now();
    for (const [id, d] of this.discovered) {
      if (this.registry.get(id) || this.registry.refuses(id)) {
        this.discovered.delete(id);
        continue;
      }
      if (this.contacting.has(id) || now < d.notBefore) continue;
      this.contacting.add(id);
      d.attempts++;
      void this.registerFresh({ id, url: d.info.listen_url }, 'discovered').then((node) => {
        this.contacting.delete(id);
        if (node || d.attempts >= DISCOVERED_ATTEMPTS) this.discovered.delete(id);
        else d.notBefore = this.now() + this.timing.groomInterval * Math.min(2 ** (d.attempts - 1), DISCOVERED_BACKOFF_MAX) * (0.5 + Math.random());
      });
    }
  }

  private logJoined(node: RemoteNode): void {
    this.log.info('node joined', {
      component: 'mesh',
      peer: node.info.id,
      url: node.info.listen_url,
      address: node.info.node_addresses.ipv4.cidr,
      kind: node.capabilities ? 'tunmesh' : 'original',
    });
  }

  /** Register with the cluster token to a node we do not know yet; the node when it answered. */
  private async registerFresh(target: PeerTarget, why: string, patient = false): Promise<RemoteNode | undefined> {
    try {
      const started = this.now();
      const view = this.viewFor(undefined);
      const answer = await this.api.register(target, view.reg, 'cluster', { patient });
      const rtt = this.now() - started;
      this.hooks.roundTrip(rtt);
      if (answer.value.local.id !== target.id) throw new MeshError('invalid', `answered as ${answer.value.local.id}, expected ${target.id}`);
      return this.accepted(answer, rtt, view);
    } catch (err) {
      this.hooks.event('register_failed');
      this.log.warn('registration failed', { component: 'mesh', why, url: target.url, peer: target.id, error: errorMessage(err) });
      return undefined;
    }
  }

  /** The answer to our registration, which carried `view`. */
  private accepted(answer: Signed<Registration>, rttSeconds: number, view: View): RemoteNode {
    const { local, remote } = answer.value;
    const isNew = !this.registry.get(local.id);
    const node = this.registry.heardFrom(local, answer.capabilities, this.now());
    node.lastSent = this.now();
    node.rttSeconds = rttSeconds;
    node.faults.succeed();
    this.delivered(node, view);
    this.scheduleNext(node);
    if (isNew) this.logJoined(node);
    this.hooks.event('register_sent');
    this.hooks.onRegistered(node);
    this.learn(remote);
    return node;
  }

  /**
   * Re-register with a known node: session token; on 401/404, see who is at its URL (6. re-adopt).
   * `patient`: the last try before a silent peer is dropped waits as long as any answer may take.
   */
  async registerTo(node: RemoteNode, patient = false): Promise<void> {
    const target = { id: node.info.id, url: node.info.listen_url };
    if (this.registering.has(target.id)) return;
    this.registering.add(target.id);
    try {
      const started = this.now();
      let answer: Signed<Registration>;
      let view = this.viewFor(node);
      const mode = node.lastSent === 0 ? 'cluster' : 'session';
      try {
        answer = await this.api.register(target, view.reg, mode, { patient });
      } catch (err) {
        // 404: it groomed us; 401: it dropped the session keys it issued us, or the node at this
        // URL is no longer the one we knew (a restart keeps the URL and draws a new id).
        if (!(err instanceof PeerRefused) || (err.status !== 404 && err.status !== 401)) throw err;
        if (await this.readopt(target)) return;
        this.log.info('peer forgot us, registering again', { component: 'mesh', peer: target.id });
        node.viewSent = -1;
        view = this.viewFor(node);
        answer = await this.api.register(target, view.reg, 'cluster', { lane: 'keep', patient });
      }
      const rtt = this.now() - started;
      this.hooks.roundTrip(rtt);
      this.accepted(answer, rtt, view);
    } catch (err) {
      node.faults.fail(this.now());
      node.refusals = err instanceof PeerUnreachable && !err.timedOut ? node.refusals + 1 : 0;
      node.viewSent = -1; // it may not have our view: send it whole next time
      this.hooks.event('register_failed');
      this.log.warn('re-registration failed', { component: 'mesh', peer: target.id, url: target.url, failures: node.faults.consecutiveFailures, patient, error: errorMessage(err) });
    } finally {
      this.registering.delete(target.id);
    }
  }

  /**
   * 6. re-adopt: when another node now answers at a known node's URL, register to it at once
   * (its entry replaces the old id, which has the same URL: registry.replaceRestarted) rather
   * than knock at the old id until grooming drops it. True when someone new was there.
   */
  private async readopt(old: PeerTarget): Promise<boolean> {
    const who = await this.api.nodeInfo(old.url, { lane: 'keep' });
    if (who.id === old.id || who.id === this.self.id) return false;
    this.log.info('a new node answers at a known URL, registering to it', { component: 'mesh', url: old.url, old: old.id, peer: who.id });
    const adopted = await this.registerFresh({ id: who.id, url: who.listen_url }, 'restarted');
    if (!adopted) throw new MeshError('invalid', `could not register to ${who.id}, the new node at ${old.url}`);
    if (this.registry.get(old.id)) this.registry.remove(old.id, `replaced by ${who.id} at ${old.url}`);
    return true;
  }

  /** 1. bootstrap: one attempt per due group, over its URLs until one answers. */
  private async bootstrap(now: number): Promise<void> {
    if (this.bootstrapping) return;
    this.bootstrapping = true;
    try {
      await this.bootstrapGroups(now);
    } finally {
      this.bootstrapping = false;
    }
  }

  private async bootstrapGroups(now: number): Promise<void> {
    if (this.groups.some((g) => !g.done && now >= g.nextAttempt)) this.reloadGroups();
    for (const state of this.groups) {
      const present = [...state.registered].some((id) => this.registry.get(id));
      if (state.done && state.registered.size > 0 && !present) {
        // Every node this group bootstrapped through is gone (groomed after a partition): start over.
        this.log.warn('bootstrap group lost its nodes, bootstrapping again', { component: 'mesh', group: state.group.name });
        state.done = false;
        state.attempts = state.slowAttempts = 0;
        state.registered.clear();
      }
      if (state.done) continue;
      if (present) {
        state.done = true;
        continue;
      }
      if (now < state.nextAttempt) continue;
      state.attempts++;
      this.hooks.event('bootstrap');
      const tried: BootstrapTry = { lines: [], slow: false };
      for (const candidate of await this.candidates(state.group.urls, tried)) {
        if (this.stopped) break;
        const node = await this.bootstrapUrl(candidate, tried);
        if (node) {
          state.registered.add(node.info.id);
          state.done = true;
          state.nextResolve = now + this.timing.bootstrapRetryInterval;
          this.log.info('bootstrapped', { component: 'mesh', group: state.group.name, url: describe(candidate), peer: node.info.id });
          break;
        }
      }
      if (!state.done) this.scheduleRetry(state, now, tried);
    }
  }

  /**
   * The candidates of a group's URLs now, ours left out: a name stands for each of its
   * addresses; one that does not resolve is noted in `tried` (the attempt is retried as any).
   */
  private async candidates(urls: string[], tried: BootstrapTry): Promise<Candidate[]> {
    const all: Candidate[] = [];
    for (const url of urls) {
      if (this.isSelf(url)) continue;
      try {
        const found = (await candidatesOf(url, this.resolve)).filter((c) => !this.isSelfCandidate(c));
        if (found.length === 0) tried.lines.push(`${url}: no address but our own`);
        all.push(...found);
      } catch (err) {
        tried.lines.push(`${url}: ${errorMessage(err)}`);
      }
    }
    return all;
  }

  /** A name's record that is one of our own addresses, at our port. */
  private isSelfCandidate(c: Candidate): boolean {
    if (c.address === undefined) return false;
    if (urlPort(c.url) !== urlPort(this.self.info.listen_url)) return false;
    return c.address === urlHost(this.self.info.listen_url) || this.ownAddresses().has(c.address);
  }

  /**
   * Once bootstrapped, a group's names are resolved again every bootstrap_retry_interval, and
   * each address no known node listens at is asked who is there and, if new, registered to:
   * pods that came up apart find each other. Addresses gone from the answer are not tried again.
   */
  private async followNames(now: number): Promise<void> {
    if (this.following) return;
    this.following = true;
    try {
      for (const state of this.groups) {
        if (!state.done || now < state.nextResolve || !state.group.urls.some((u) => namedHost(u) !== null)) continue;
        await this.followGroup(state, now);
      }
    } finally {
      this.following = false;
    }
  }

  private async followGroup(state: GroupState, now: number): Promise<void> {
    const tried: BootstrapTry = { lines: [], slow: false };
    const found = await this.candidates(state.group.urls.filter((u) => namedHost(u) !== null), tried);
    const failed = tried.lines.filter((l) => !l.endsWith('no address but our own'));
    state.resolveFailures = failed.length > 0 ? state.resolveFailures + 1 : 0;
    const wait = Math.min(this.timing.bootstrapRetryInterval * 2 ** Math.min(state.resolveFailures, 8), Math.max(this.timing.bootstrapRetryInterval, RESOLVE_BACKOFF_MAX));
    state.nextResolve = now + wait;
    if (failed.length > 0) this.log.warn('bootstrap name did not resolve, the mesh goes on with the nodes it knows', { component: 'mesh', group: state.group.name, tried: failed, retryInSeconds: Math.round(wait) });
    const known = new Set(this.registry.all().map((n) => hostPort(n.info.listen_url)));
    for (const candidate of found) {
      if (this.stopped) return;
      if (candidate.address === undefined || known.has(`${candidate.address}:${urlPort(candidate.url)}`)) continue;
      await this.contactAddress(candidate);
    }
  }

  /** An address of a bootstrap name that no known node has: who is there? Register if new. */
  private async contactAddress(candidate: Candidate): Promise<void> {
    try {
      const who = await this.api.nodeInfo(candidate.url, { address: candidate.address });
      if (who.id === this.self.id || this.registry.get(who.id) || this.registry.refuses(who.id) || this.contacting.has(who.id)) return;
      this.log.info('a bootstrap name has a node we did not know, registering to it', { component: 'mesh', url: describe(candidate), peer: who.id });
      await this.registerFresh({ id: who.id, url: who.listen_url }, 'bootstrap name');
    } catch (err) {
      this.log.info('an address of a bootstrap name did not answer', { component: 'mesh', url: describe(candidate), error: errorMessage(err) });
    }
  }

  /**
   * When the group is tried again: soon after URLs that only refused (in a cold start the
   * bootstrap node is often not listening yet, and a refused connect costs nothing), after
   * bootstrap_retry_interval when one was slow or failed, and only after GROW_AFTER of those
   * ever later (a bootstrap node short of CPU is not sent more work than it can answer).
   */
  private scheduleRetry(state: GroupState, now: number, tried: BootstrapTry): void {
    const { retries, name } = state.group;
    if (retries >= 0 && state.attempts > retries) {
      state.done = true;
      this.log.error('bootstrap gave up: no URL of the group answered', { component: 'mesh', group: name, attempts: state.attempts, tried: tried.lines });
      return;
    }
    const base = this.timing.bootstrapRetryInterval;
    if (tried.slow) state.slowAttempts++;
    const backoff = tried.slow
      ? Math.min(base * 2 ** Math.min(Math.max(state.slowAttempts - GROW_AFTER, 0), 4), Math.max(base, 300))
      : Math.min(base, QUICK_RETRY_SECONDS * 2 ** Math.min(state.attempts - 1, 8));
    state.nextAttempt = now + backoff * (0.75 + Math.random() * 0.5);
    this.log.warn('bootstrap attempt failed, will retry', { component: 'mesh', group: name, attempt: state.attempts, tried: tried.lines, retryInSeconds: Math.round(state.nextAttempt - now) });
  }

  /**
   * `tried` collects "url: what answered" for the log line of a failed attempt, and whether a
   * URL was slow (timed out, or answered but the registration failed). Patient: a
   * bootstrap node is the way in, and in a cold start every node asks it at once; a timeout
   * would cost a whole bootstrap_retry_interval, a slow answer only its own time.
   */
  private async bootstrapUrl(candidate: Candidate, tried: BootstrapTry): Promise<RemoteNode | undefined> {
    const url = describe(candidate);
    try {
      const who = await this.api.nodeInfo(candidate.url, { patient: true, address: candidate.address });
      if (who.id === this.self.id) return undefined;
      const known = this.registry.get(who.id);
      if (known && known.lastSent > 0) return known;
      const node = await this.registerFresh({ id: who.id, url: who.listen_url }, 'bootstrap', true);
      if (!node) {
        tried.lines.push(`${url}: registration to ${who.id} failed`);
        tried.slow = true;
      }
      return node;
    } catch (err) {
      tried.lines.push(`${url}: ${errorMessage(err)}`);
      if (!(err instanceof PeerUnreachable) || err.timedOut) tried.slow = true;
      this.log.warn('bootstrap URL unreachable', { component: 'mesh', url, error: errorMessage(err) });
      return undefined;
    }
  }

  /** The loop: keep work every tick, grooming every groom_interval. Never throws; reschedules itself. */
  private tick(): void {
    if (this.stopped) return;
    const now = this.now();
    this.lastTick = now;
    try {
      this.keep(now);
      if (this.discovered.size > 0) this.contactDiscovered();
      // A bootstrap retry due sooner than the next groom (a URL that refused) goes out on its tick.
      if (!this.grooming && this.groups.some((g) => !g.done && now >= g.nextAttempt)) void this.bootstrap(now);
      if (now >= this.nextGroom && !this.grooming) {
        this.nextGroom = now + this.timing.groomInterval;
        void this.groom(); // bootstrap may wait on a slow URL: the keep work goes on meanwhile
      }
    } catch (err) {
      this.log.error('grooming failed', { component: 'mesh', error: errorMessage(err) });
    } finally {
      if (!this.stopped) this.timer = this.timers.setTimeout(() => this.tick(), Math.min(this.timing.groomInterval, MAX_TICK_SECONDS) * 1000);
    }
  }

  /** 4. keep: re-register to every peer that is due (not awaited: slow peers do not hold the loop). */
  private keep(now: number): void {
    for (const node of this.registry.all()) {
      if (now >= node.dueAt && !node.faults.blocked(now) && !this.registering.has(node.info.id)) void this.registerTo(node);
    }
  }

  /** 5. groom: bootstrap, discovered nodes, silent peers. */
  async groom(): Promise<void> {
    if (this.grooming || this.stopped) return;
    this.grooming = true;
    try {
      const now = this.now();
      await this.bootstrap(now);
      void this.followNames(now);
      this.groomSilent(now);
    } catch (err) {
      this.log.error('grooming failed', { component: 'mesh', error: errorMessage(err) });
    } finally {
      this.grooming = false;
    }
  }

  /**
   * A peer silent past its stale threshold is first sent one patient registration (its answer,
   * however late, keeps it); it is dropped only when that failed and nothing else came from it.
   */
  private groomSilent(now: number): void {
    for (const node of this.registry.all()) {
      if (!this.silent(node, now) || this.registering.has(node.info.id)) continue;
      if (!node.probed) {
        node.probed = true;
        this.hooks.event('probed');
        this.log.info('peer silent, probing before removal', { component: 'mesh', peer: node.info.id, silentSeconds: Math.round(now - node.lastHeard), refusals: node.refusals });
        void this.registerTo(node, true);
        continue;
      }
      const why = node.refusals >= REFUSALS_TO_PROBE ? `its URL refused our last ${node.refusals} registrations` : 'a last registration got no answer';
      this.registry.remove(node.info.id, `stale: not heard from for ${Math.round(now - node.lastHeard)} s, and ${why}`);
      this.hooks.event('groomed');
    }
  }

  /**
   * Silent past its stale threshold; or, sooner, refusing our connections (nothing listens at its
   * URL: killed, or gone with its pod) REFUSALS_TO_PROBE times in a row over a groom interval.
   * A peer that is merely slow never refuses, and keeps its whole threshold.
   */
  private silent(node: RemoteNode, now: number): boolean {
    const quiet = now - node.lastHeard;
    return quiet > this.staleThreshold(node) || (node.refusals >= REFUSALS_TO_PROBE && quiet > this.timing.groomInterval);
  }

  private isSelf(url: string): boolean {
    return sameUrl(url, this.self.info.listen_url);
  }
}

/** "host:port" of a URL, as a name's record and port would give it. */
function hostPort(url: string): string {
  return `${urlHost(url)}:${urlPort(url)}`;
}

function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return a === b;
  }
}

/**
 * By how much a tunmesh pair's re-registration interval and stale threshold grow in a mesh of
 * `peers` other nodes so that a node takes part in at most `rate` exchanges per second (0: off).
 */
export function keepFactor(peers: number, rate: number, interval: number): number {
  return rate > 0 ? Math.max(1, peers / (rate * interval)) : 1;
}
