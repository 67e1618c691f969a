// The node's side of the firewall: it forks the keeper (keeper.ts) while still root, applies the
// rules before any packet can cross, and from then on keeps the kernel's sets in step with the
// mesh (setPeers), swaps the rules on reload, and turns the kernel's counters into metrics and
// rate-limited log lines. Updates run one at a time, in order.
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { FirewallConfig } from '../config/types.js';
import type { LevelLogger } from '../log/logger.js';
import { errorMessage } from '../log/error-message.js';
import type { FirewallMetrics } from './metrics.js';
import type { KeeperAnswer, KeeperRequest } from './keeper-contract.js';
import { resolveRuleset, type FirewallPeer } from './resolve.js';
import { DEFAULT_RULE, type Direction, type Ruleset } from './ruleset.js';

/** The rules could not be put in force (no nft, no CAP_NET_ADMIN, a kernel without nf_tables or conntrack). */
export class FirewallError extends Error {
  override readonly name = 'FirewallError';
}

/** Bound on one keeper request (an nft run). */
const REQUEST_TIMEOUT_MS = 15_000;
/** How often the kernel's counters are read into the metrics. */
export const COUNTER_INTERVAL_MS = 5000;
/** At most one debug line per rule and direction this often. */
const DROP_LOG_INTERVAL_MS = 10_000;

/** Identifies a rule set across nodes: the same rules, the same hash (the sets' contents are not in it). */
export function rulesHash(fw: FirewallConfig | null): string {
  if (fw === null) return 'none';
  const canonical = JSON.stringify({ inbound: fw.inbound, outbound: fw.outbound, conntrack: fw.conntrack });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}

/** The rules counted in tunmesh_firewall_rules and `tunmesh status`. */
export function ruleCount(fw: FirewallConfig | null): number {
  return fw === null ? 0 : (fw.inbound?.length ?? 0) + (fw.outbound?.length ?? 0);
}

export interface FirewallOptions {
  device: string;
  /** The node's config file: the keeper reads it again on reload. */
  configPath: string;
  log: LevelLogger;
  metrics: FirewallMetrics;
}

export class Firewall {
  private config: FirewallConfig | null;
  private peers: readonly FirewallPeer[] = [];
  private applied: Ruleset | null = null;
  private readonly pending = new Map<number, (a: KeeperAnswer) => void>();
  private nextId = 1;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly seen = new Map<string, number>();
  private readonly lastLogged = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private exited = false;

  private constructor(
    private readonly keeper: ChildProcess,
    config: FirewallConfig,
    private readonly opts: FirewallOptions,
  ) {
    this.config = config;
    keeper.on('message', (a: KeeperAnswer) => this.pending.get(a.id)?.(a));
    keeper.on('exit', (code, signal) => {
      this.exited = true;
      for (const answer of this.pending.values()) answer({ id: -1, ok: false, error: `the firewall keeper exited (${signal ?? code})` });
      this.pending.clear();
    });
    this.timer = setInterval(() => void this.readCounters(), COUNTER_INTERVAL_MS).unref();
  }

  /** Forks the keeper and puts the rules in force (no peers known yet: group and node rules match nobody). Throws FirewallError. */
  static async start(config: FirewallConfig, opts: FirewallOptions): Promise<Firewall> {
    const { entry, execArgv } = keeperEntry();
    const keeper = fork(entry, [opts.configPath], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const fw = new Firewall(keeper, config, opts);
    try {
      await fw.apply('table');
    } catch (err) {
      await fw.stop();
      throw err;
    }
    opts.metrics.inForce(rulesHash(config), ruleCount(config));
    opts.log.info('firewall rules in force', { component: 'firewall', device: opts.device, hash: rulesHash(config), rules: ruleCount(config) });
    return fw;
  }

  get hash(): string {
    return rulesHash(this.config);
  }

  get rules(): number {
    return ruleCount(this.config);
  }

  /** The peers changed: refill the sets their groups and ids select (nothing is sent when no set changes). */
  setPeers(peers: readonly FirewallPeer[]): void {
    this.peers = peers;
    if (this.config === null || this.applied === null) return;
    const next = resolveRuleset(this.opts.device, this.config, peers);
    if (setsOf(next) === setsOf(this.applied)) return;
    void this.apply('sets').catch((err: unknown) => this.opts.log.error('firewall sets not updated; the previous ones stay', { component: 'firewall', error: errorMessage(err) }));
  }

  /** New rules (SIGHUP, the config file changed): swapped in one transaction; tracked flows stay. */
  async reload(config: FirewallConfig | null): Promise<'applied' | 'unchanged'> {
    if (rulesHash(config) === this.hash) return 'unchanged';
    const previous = this.config;
    this.config = config;
    try {
      await this.apply(config === null ? 'remove' : 'table');
    } catch (err) {
      this.config = previous;
      throw err;
    }
    this.opts.metrics.inForce(this.hash, this.rules);
    this.opts.log.info(config === null ? 'firewall rules removed: all traffic allowed' : 'firewall rules reloaded', { component: 'firewall', hash: this.hash, rules: this.rules });
    return 'applied';
  }

  /** The config file's text, read by the keeper (root): for a reload of the rules. */
  async readConfig(): Promise<string> {
    const answer = await this.request({ id: this.nextId++, type: 'read_config' });
    if (!answer.ok || answer.text === undefined) throw new FirewallError(`cannot read the config file: ${answer.ok ? 'no text' : answer.error}`);
    return answer.text;
  }

  /** Removes the table and lets the keeper go (bounded). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (!this.exited) await this.request({ id: this.nextId++, type: 'remove', device: this.opts.device }).catch(() => undefined);
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.keeper.once('exit', () => resolve()));
    this.keeper.disconnect();
    const timeout = setTimeout(() => this.keeper.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(timeout);
  }

  /** Kernel counters -> metrics (what grew since the last look) and a debug line per rule, rate-limited. */
  async readCounters(): Promise<void> {
    if (this.applied === null || this.exited) return;
    const applied = this.applied;
    const answer = await this.request({ id: this.nextId++, type: 'counters', device: this.opts.device }).catch(() => null);
    if (answer === null || !answer.ok || answer.counters === undefined || this.applied !== applied) return;
    for (const [name, packets] of Object.entries(answer.counters)) {
      const before = this.seen.get(name) ?? 0;
      this.seen.set(name, packets);
      const grown = packets >= before ? packets - before : packets;
      if (grown > 0) this.count(applied, name, grown);
    }
  }

  private count(rs: Ruleset, name: string, grown: number): void {
    const direction: Direction = name.startsWith('in_') ? 'inbound' : 'outbound';
    const rule = (rs[direction] ?? []).find((r) => r.name === name);
    if (rule !== undefined && rule.action === 'allow') return this.opts.metrics.allowedBy(direction, rule.path, grown);
    const label = name === DEFAULT_RULE[direction] ? 'default' : (rule?.path ?? name);
    this.opts.metrics.droppedBy(direction, label, grown);
    const key = `${direction} ${label}`;
    const now = Date.now();
    if (now - (this.lastLogged.get(key) ?? 0) < DROP_LOG_INTERVAL_MS) return;
    this.lastLogged.set(key, now);
    this.opts.log.debug('firewall dropped packets', { component: 'firewall', direction, rule: label, packets: grown });
  }

  /** One update at a time, in the order asked; the ruleset is built when its turn comes (latest peers and rules). */
  private apply(kind: 'table' | 'sets' | 'remove'): Promise<void> {
    const run = async (): Promise<void> => {
      const config = this.config;
      if (kind === 'remove' || config === null) {
        await this.expect({ id: this.nextId++, type: 'remove', device: this.opts.device });
        this.applied = null;
        return;
      }
      const ruleset = resolveRuleset(this.opts.device, config, this.peers);
      const type = kind === 'sets' && this.applied !== null ? 'sets' : 'table';
      await this.expect({ id: this.nextId++, type, ruleset });
      if (type === 'table') this.seen.clear();
      this.applied = ruleset;
    };
    const done = this.queue.then(run, run);
    this.queue = done.catch(() => undefined);
    return done;
  }

  private async expect(req: KeeperRequest): Promise<void> {
    const answer = await this.request(req);
    if (!answer.ok) throw new FirewallError(`firewall rules for ${this.opts.device} not applied: ${answer.error}`);
  }

  private request(req: KeeperRequest): Promise<KeeperAnswer> {
    if (this.exited) return Promise.reject(new FirewallError('the firewall keeper is not running'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(req.id);
        reject(new FirewallError(`the firewall keeper did not answer within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(req.id, (a) => {
        clearTimeout(timer);
        this.pending.delete(req.id);
        resolve(a);
      });
      this.keeper.send(req);
    });
  }
}

/** The sets' contents, comparable: a change means an nft update. */
function setsOf(rs: Ruleset): string {
  return JSON.stringify([...(rs.inbound ?? []), ...(rs.outbound ?? [])].map((r) => r.match));
}

/** The keeper runs the compiled entry; under tsx (tests) the TypeScript one. */
function keeperEntry(): { entry: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return { entry: fileURLToPath(new URL('./keeper.ts', import.meta.url)), execArgv: ['--import', 'tsx'] };
  return { entry: fileURLToPath(new URL('./keeper.js', import.meta.url)), execArgv: [] };
}
