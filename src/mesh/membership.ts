// Membership: how a node joins the mesh and keeps it whole (reference §6).
//
//   1. bootstrap  - each group registers (cluster token) to its URLs until one answers
//   2. answer     - a registration we receive adds/refreshes its sender and names others
//   3. discover   - every node named in a `remote` list that we do not know is contacted
//   4. groom      - every groom_interval: re-register when due, drop nodes not heard from
//                   within the stale threshold, retry bootstrap, contact discovered nodes
//   5. re-adopt   - a known node that refuses our re-registration (401/404) may have restarted
//                   with a new id at the same URL: ask its URL who is there and register to that
// Failures back off per peer (fault-tracker.ts); nothing here throws out of the loop.
import type { Logger } from '../log/logger.js';
import type { Registration, NodeInfo } from './types.js';
import type { Capabilities } from './capabilities.js';
import type { LocalIdentity } from './identity.js';
import type { Registry, RemoteNode } from './registry.js';
import type { MeshTiming } from './timing.js';
import { MeshError } from './errors.js';
import { PeerRefused, type PeerApi, type PeerTarget, type Signed } from './peer-api.js';
import { errorMessage } from '../log/error-message.js';

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
  nextAttempt: number;
  registered: Set<string>;
}

export interface MembershipHooks {
  /** Called after a peer accepted our registration (e.g. to open sessions and channels). */
  onRegistered(node: RemoteNode): void;
  event(kind: 'bootstrap' | 'register_sent' | 'register_received' | 'register_failed' | 'groomed' | 'discovered'): void;
  /** Seconds a successful registration round trip took (TLS, auth and the peer's handling). */
  roundTrip(seconds: number): void;
  /** With reload_config_on_bootstrap: the groups as the config file says now (undefined: keep). */
  reloadGroups?(): BootstrapGroup[] | undefined;
}

export class Membership {
  private readonly groups: GroupState[];
  private readonly discovered = new Map<string, NodeInfo>();
  private readonly contacting = new Set<string>();
  /** Peers a registration is on its way to: the groom loop and an answer must not send two. */
  private readonly registering = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private grooming = false;
  private stopped = false;
  readonly startedAt: number;

  constructor(
    private readonly self: LocalIdentity,
    private readonly registry: Registry,
    private readonly api: PeerApi,
    private readonly timing: MeshTiming,
    groups: BootstrapGroup[],
    private readonly hooks: MembershipHooks,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {
    this.startedAt = now();
    this.groups = groups.map((group) => this.groupState(group));
  }

  private groupState(group: BootstrapGroup): GroupState {
    return {
      group,
      done: group.urls.filter((u) => !this.isSelf(u)).length === 0,
      attempts: 0,
      nextAttempt: 0,
      registered: new Set<string>(),
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
    void this.groom();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Our registration payload: ourselves and every node we know. */
  registration(): Registration {
    return { local: this.self.info, remote: this.registry.all().map((n) => n.info), stamp: Math.floor(this.now()) };
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
    // Register back at once so the new node does not wait a groom interval to hear from us.
    if (node.lastSent === 0) void this.registerTo(node);
    return this.registration();
  }

  /** 3. discover: remember nodes named by others; the next groom contacts them. */
  private learn(remote: NodeInfo[]): void {
    let fresh = false;
    for (const info of remote) {
      if (info.id === this.self.id || this.isSelf(info.listen_url) || this.registry.get(info.id) || this.registry.refuses(info.id)) continue;
      if (!this.discovered.has(info.id)) fresh = true;
      this.discovered.set(info.id, info);
    }
    if (fresh) {
      this.hooks.event('discovered');
      setImmediate(() => void this.contactDiscovered());
    }
  }

  private async contactDiscovered(): Promise<void> {
    const pending = [...this.discovered.values()];
    this.discovered.clear();
    await Promise.all(
      pending.map(async (info) => {
        if (this.registry.get(info.id) || this.contacting.has(info.id)) return;
        this.contacting.add(info.id);
        try {
          await this.registerFresh({ id: info.id, url: info.listen_url }, 'discovered');
        } finally {
          this.contacting.delete(info.id);
        }
      }),
    );
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
  private async registerFresh(target: PeerTarget, why: string): Promise<RemoteNode | undefined> {
    try {
      const started = performance.now();
      const answer = await this.api.register(target, this.registration(), 'cluster');
      const rtt = (performance.now() - started) / 1000;
      this.hooks.roundTrip(rtt);
      if (answer.value.local.id !== target.id) throw new MeshError('invalid', `answered as ${answer.value.local.id}, expected ${target.id}`);
      return this.accepted(answer, rtt);
    } catch (err) {
      this.hooks.event('register_failed');
      this.log.warn('registration failed', { component: 'mesh', why, url: target.url, peer: target.id, error: errorMessage(err) });
      return undefined;
    }
  }

  private accepted(answer: Signed<Registration>, rttSeconds: number): RemoteNode {
    const { local, remote } = answer.value;
    const isNew = !this.registry.get(local.id);
    const node = this.registry.heardFrom(local, answer.capabilities, this.now());
    node.lastSent = this.now();
    node.rttSeconds = rttSeconds;
    node.faults.succeed();
    if (isNew) this.logJoined(node);
    this.hooks.event('register_sent');
    this.hooks.onRegistered(node);
    this.learn(remote);
    return node;
  }

  /** Re-register with a known node: session token; on 401/404, see who is at its URL (5. re-adopt). */
  async registerTo(node: RemoteNode): Promise<void> {
    const target = { id: node.info.id, url: node.info.listen_url };
    if (this.registering.has(target.id)) return;
    this.registering.add(target.id);
    try {
      const started = performance.now();
      let answer: Signed<Registration>;
      try {
        answer = await this.api.register(target, this.registration(), node.lastSent === 0 ? 'cluster' : 'session');
      } catch (err) {
        // 404: it groomed us; 401: it dropped the session keys it issued us, or the node at this
        // URL is no longer the one we knew (a restart keeps the URL and draws a new id).
        if (!(err instanceof PeerRefused) || (err.status !== 404 && err.status !== 401)) throw err;
        if (await this.readopt(target)) return;
        this.log.info('peer forgot us, registering again', { component: 'mesh', peer: target.id });
        answer = await this.api.register(target, this.registration(), 'cluster');
      }
      const rtt = (performance.now() - started) / 1000;
      this.hooks.roundTrip(rtt);
      this.accepted(answer, rtt);
    } catch (err) {
      node.faults.fail(this.now());
      this.hooks.event('register_failed');
      this.log.warn('re-registration failed', { component: 'mesh', peer: target.id, failures: node.faults.consecutiveFailures, error: errorMessage(err) });
    } finally {
      this.registering.delete(target.id);
    }
  }

  /**
   * 5. re-adopt: when another node now answers at a known node's URL, register to it at once
   * (its entry replaces the old id, which has the same URL: registry.replaceRestarted) rather
   * than knock at the old id until grooming drops it. True when someone new was there.
   */
  private async readopt(old: PeerTarget): Promise<boolean> {
    const who = await this.api.nodeInfo(old.url);
    if (who.id === old.id || who.id === this.self.id) return false;
    this.log.info('a new node answers at a known URL, registering to it', { component: 'mesh', url: old.url, old: old.id, peer: who.id });
    const adopted = await this.registerFresh({ id: who.id, url: who.listen_url }, 'restarted');
    if (!adopted) throw new MeshError('invalid', `could not register to ${who.id}, the new node at ${old.url}`);
    if (this.registry.get(old.id)) this.registry.remove(old.id, `replaced by ${who.id} at ${old.url}`);
    return true;
  }

  /** 1. bootstrap: one attempt per due group, over its URLs until one answers. */
  private async bootstrap(now: number): Promise<void> {
    if (this.groups.some((g) => !g.done && now >= g.nextAttempt)) this.reloadGroups();
    for (const state of this.groups) {
      const present = [...state.registered].some((id) => this.registry.get(id));
      if (state.done && state.registered.size > 0 && !present) {
        // Every node this group bootstrapped through is gone (groomed after a partition): start over.
        this.log.warn('bootstrap group lost its nodes, bootstrapping again', { component: 'mesh', group: state.group.name });
        state.done = false;
        state.attempts = 0;
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
      for (const url of state.group.urls) {
        if (this.isSelf(url) || this.stopped) continue;
        const node = await this.bootstrapUrl(url);
        if (node) {
          state.registered.add(node.info.id);
          state.done = true;
          this.log.info('bootstrapped', { component: 'mesh', group: state.group.name, url, peer: node.info.id });
          break;
        }
      }
      if (!state.done) this.scheduleRetry(state, now);
    }
  }

  private scheduleRetry(state: GroupState, now: number): void {
    const { retries, name } = state.group;
    if (retries >= 0 && state.attempts > retries) {
      state.done = true;
      this.log.error('bootstrap gave up: no URL of the group answered', { component: 'mesh', group: name, attempts: state.attempts });
      return;
    }
    const base = this.timing.bootstrapRetryInterval;
    const backoff = Math.min(base * 2 ** Math.min(state.attempts - 1, 4), Math.max(base, 300));
    state.nextAttempt = now + backoff * (0.75 + Math.random() * 0.5);
    this.log.warn('bootstrap attempt failed, will retry', { component: 'mesh', group: name, attempt: state.attempts, retryInSeconds: Math.round(state.nextAttempt - now) });
  }

  private async bootstrapUrl(url: string): Promise<RemoteNode | undefined> {
    try {
      const who = await this.api.nodeInfo(url);
      if (who.id === this.self.id) return undefined;
      const known = this.registry.get(who.id);
      if (known && known.lastSent > 0) return known;
      return await this.registerFresh({ id: who.id, url: who.listen_url }, 'bootstrap');
    } catch (err) {
      this.log.warn('bootstrap URL unreachable', { component: 'mesh', url, error: errorMessage(err) });
      return undefined;
    }
  }

  /** 4. groom: the periodic loop. Never throws; reschedules itself. */
  async groom(): Promise<void> {
    if (this.grooming || this.stopped) return;
    this.grooming = true;
    try {
      const now = this.now();
      await this.bootstrap(now);
      this.dropStale(now);
      await Promise.all(this.registry.all().filter((n) => this.reregistrationDue(n, now)).map((n) => this.registerTo(n)));
      if (this.discovered.size > 0) await this.contactDiscovered();
    } catch (err) {
      this.log.error('grooming failed', { component: 'mesh', error: errorMessage(err) });
    } finally {
      this.grooming = false;
      if (!this.stopped) this.timer = setTimeout(() => void this.groom(), this.timing.groomInterval * 1000);
    }
  }

  private reregistrationDue(node: RemoteNode, now: number): boolean {
    if (node.faults.blocked(now)) return false;
    const interval = this.timing[node.scope].reregistrationInterval;
    return now - node.lastSent >= interval;
  }

  private dropStale(now: number): void {
    for (const node of this.registry.all()) {
      const threshold = this.timing[node.scope].staleThreshold;
      if (now - node.lastHeard > threshold) {
        this.registry.remove(node.info.id, `stale: not heard from for ${Math.round(now - node.lastHeard)} s`);
        this.hooks.event('groomed');
      }
    }
  }

  private isSelf(url: string): boolean {
    return sameUrl(url, this.self.info.listen_url);
  }
}

export function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return a === b;
  }
}
