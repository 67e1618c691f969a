// Shared with the demo and the benchmark (src/lab); tests import it from here.
// Network-namespace lab for integration tests: real namespaces, veth pairs, a bridge, real
// packets, and nothing touching the host namespace.
//
// Safety rules these helpers enforce or make easy:
//   - every namespace name starts with a per-run unique prefix (uniquePrefix) and is recorded;
//     a process 'exit' hook deletes any a test forgot;
//   - addresses only in 198.18.0.0/15 (underlay 198.18.0.x, mesh 198.19.x.x) and 2001:2::/48
//     (underlay 2001:2::x, mesh 2001:2:0:100::/56), no default route;
//   - every command and wait is bounded in time;
//   - cleanup kills only PIDs registered with the lab, by PID.

import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { errorMessage } from '../log/error-message.js';

const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;

/** Namespaces the caller means to leave behind on purpose (demo --keep): not deleted on exit. */
export function keepNamespaces(names: readonly string[]): void {
  for (const ns of names) liveNamespaces.delete(ns);
}

/**
 * A safety net: `cleanup` runs (synchronously, best effort) on every item still in `live` when
 * this process exits. Returns the installer; call it before the first item is added.
 */
export function cleanupOnExit<T>(live: Set<T>, cleanup: (item: T) => void): () => void {
  let installed = false;
  return () => {
    if (installed) return;
    installed = true;
    process.on('exit', () => {
      for (const item of live) {
        try {
          cleanup(item);
        } catch {
          // best effort: the process is exiting
        }
      }
    });
  };
}

/** Namespaces created by this process and not yet deleted (deleted on exit as a safety net). */
const liveNamespaces = new Set<string>();
const installExitHook = cleanupOnExit(liveNamespaces, (ns) => execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 2000 }));

/** A prefix no other run shares: `tmt-<tag>-<pid>-<hex>`. Keep tags short (a-z0-9). */
export function uniquePrefix(tag: string): string {
  return `tmt-${tag}-${process.pid}-${randomBytes(2).toString('hex')}`;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  timeoutMs?: number;
  /** Throw when the command exits non-zero (default true). */
  check?: boolean;
  env?: NodeJS.ProcessEnv;
}

class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: ExecResult,
    why: string,
  ) {
    super(`${command} ${why}${result.stderr.trim() ? `: ${result.stderr.trim()}` : ''}`);
    this.name = 'CommandError';
  }
}

/** Runs a command with a bounded time; by default throws CommandError on failure. */
export function run(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const command = [cmd, ...args].join(' ');
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', env: opts.env ?? process.env, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve({ code: 0, stdout, stderr });
          return;
        }
        const rawCode = (err as NodeJS.ErrnoException).code;
        const code = typeof rawCode === 'number' ? rawCode : -1;
        const result: ExecResult = { code, stdout, stderr };
        if (err.killed) reject(new CommandError(command, result, `timed out after ${timeoutMs} ms`));
        else if (typeof rawCode === 'string') reject(new CommandError(command, result, `could not start (${rawCode})`));
        else if (opts.check === false) resolve(result);
        else reject(new CommandError(command, result, `exited ${code}`));
      },
    );
  });
}

export async function createNetns(name: string): Promise<void> {
  installExitHook();
  await run('ip', ['netns', 'add', name]);
  liveNamespaces.add(name);
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Deletes a namespace; a namespace that is already gone is fine. */
export async function deleteNetns(name: string): Promise<void> {
  const r = await run('ip', ['netns', 'del', name], { check: false });
  liveNamespaces.delete(name);
  if (r.code !== 0 && !/No such file|not found|Invalid/i.test(r.stderr)) {
    throw new CommandError(`ip netns del ${name}`, r, `exited ${r.code}`);
  }
}

export function execInNetns(ns: string, cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/**
 * Spawns a command inside a namespace. `ip netns exec` execs the command in place, so the
 * child's PID is the command's PID: killing it by PID kills the command.
 */
export function spawnInNetns(ns: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** Arguments to run a TypeScript file with this Node: `node --import tsx file ...args`. */
export function tsxArgs(file: string, ...args: string[]): string[] {
  return ['--import', 'tsx', file, ...args];
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** What is awaited, for the error message: "peer registered", "device tm0 gone". */
  what: string;
}

/**
 * Polls `predicate` until it returns a value other than false/undefined/null, and returns
 * that value; throws "timed out after N ms waiting for <what>" (with the last error, if the
 * predicate threw) when time runs out.
 */
export async function waitFor<T>(
  predicate: () => T | false | undefined | null | Promise<T | false | undefined | null>,
  opts: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 50;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await predicate();
      if (v !== false && v !== undefined && v !== null) return v;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const last = lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${last}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Collects a child's output as it comes, and waits for lines in it. */
export class ProcessOutput {
  stdout = '';
  stderr = '';
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  exited = false;

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    child.on('exit', (code, signal) => {
      this.exited = true;
      this.exitCode = code;
      this.exitSignal = signal;
    });
  }

  lines(): string[] {
    return this.stdout.split('\n').filter((l) => l.length > 0);
  }

  /** Waits for a stdout line matching `re`; fails early, with stderr, if the child exits. */
  async waitForLine(re: RegExp, opts: { timeoutMs: number; what?: string }): Promise<RegExpMatchArray> {
    const what = opts.what ?? `a line matching ${re}`;
    return waitFor(
      () => {
        for (const line of this.lines()) {
          const m = line.match(re);
          if (m !== null) return m;
        }
        if (this.exited) {
          throw new Error(`process exited (code ${this.exitCode}, signal ${this.exitSignal}) before ${what}; stderr: ${this.stderr.trim()}`);
        }
        return undefined;
      },
      { timeoutMs: opts.timeoutMs, what: `${what} (stdout so far: ${JSON.stringify(this.stdout.slice(-500))})` },
    ).catch((err: unknown) => {
      // The predicate's own "exited" error is more useful than the timeout wrapper.
      if (err instanceof Error && /process exited/.test(err.message)) {
        throw new Error(err.message.replace(/^timed out .*?\(last error: /, '').replace(/\)$/, ''));
      }
      throw err;
    });
  }

  /** Resolves when the child has exited (bounded). */
  async waitForExit(timeoutMs: number): Promise<number | null> {
    await waitFor(() => this.exited, { timeoutMs, what: `process ${this.child.pid} to exit` });
    return this.exitCode;
  }
}

/** Sends `signal` to a PID; a process that is already gone is fine. */
export function killPid(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export interface PingResult {
  transmitted: number;
  received: number;
  /** Echoes not answered. ping stops at `count` replies, so echoes still in flight then (a slow
   * first round trip while channels open) are not losses: lost is 0 once `count` replies came. */
  lost: number;
  /** All `count` replies came back within the deadline. */
  ok: boolean;
  output: string;
}

/** Pings from a namespace and parses "N packets transmitted, M received" (iputils ping). */
export async function pingFrom(
  ns: string,
  address: string,
  opts: { count?: number; timeoutS?: number; intervalS?: number } = {},
): Promise<PingResult> {
  const count = opts.count ?? 3;
  const timeoutS = opts.timeoutS ?? 2;
  const intervalS = opts.intervalS ?? 0.2;
  // -w bounds the whole run; the exec timeout bounds it again in case ping hangs.
  const deadlineS = Math.ceil(count * intervalS + timeoutS);
  const r = await execInNetns(
    ns,
    'ping',
    ['-n', '-c', String(count), '-i', String(intervalS), '-W', String(timeoutS), '-w', String(deadlineS), address],
    { check: false, timeoutMs: (deadlineS + 5) * 1000 },
  );
  const output = r.stdout + r.stderr;
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(output);
  if (m === null) throw new Error(`cannot parse ping output from ${ns} to ${address}: ${output.trim()}`);
  const transmitted = Number(m[1]);
  const received = Number(m[2]);
  const ok = received >= count;
  return { transmitted, received, lost: ok ? 0 : transmitted - received, ok, output };
}

export interface LabNode {
  index: number;
  ns: string;
  /** The node's underlay interface inside its namespace. */
  ifname: string;
  /** Underlay address, e.g. 198.18.0.10 (2001:2::a on an IPv6-only underlay). */
  address: string;
  /** Underlay address with prefix, e.g. 198.18.0.10/24 (2001:2::a/64 on an IPv6-only underlay). */
  cidr: string;
  /** IPv6 underlay address (2001:2::a), when the lab has an IPv6 underlay. */
  address6?: string;
}

/** Which families the underlay (eth0) carries. */
export type UnderlayFamilies = 'ipv4' | 'ipv6' | 'dual';

export interface Lab {
  prefix: string;
  /** Namespace holding the bridge (br0) and the host ends of the veth pairs. */
  bridgeNs: string;
  nodes: LabNode[];
  /** Registers a PID for cleanup() to kill. */
  track(pid: number | undefined): void;
  /** spawnInNetns on node i, tracked. */
  spawn(i: number, cmd: string, args: readonly string[], opts?: SpawnOptions): ChildProcess;
  exec(i: number, cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** SIGKILLs the tracked PIDs at once (a run being aborted: the exit hook deletes the namespaces). */
  killNow(): void;
  /** Kills tracked PIDs, then deletes the lab's namespaces. Idempotent. */
  cleanup(): Promise<void>;
}

const UNDERLAY_PREFIX = 24;
export function underlayAddress(i: number): string {
  return `198.18.0.${10 + i}`;
}

const UNDERLAY6_PREFIX = 64;
/** The IPv6 underlay address of node i: 2001:2::a for node 0 (RFC 5180 benchmarking range). */
function underlayAddress6(i: number): string {
  return `2001:2::${(10 + i).toString(16)}`;
}

/**
 * n namespaces `<prefix>-n<i>`, each with eth0 = 198.18.0.(10+i)/24 (and/or, by `families`,
 * 2001:2::(10+i)/64) on a veth whose other end is enslaved to br0 in `<prefix>-br`. Loopback
 * up, no default route. IPv6 addresses skip duplicate address detection (`nodad`): they are
 * usable at once, and the lab hands out each address once.
 */
export async function createBridgeLab(prefix: string, n: number, families: UnderlayFamilies = 'ipv4'): Promise<Lab> {
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new Error(`lab size must be 1..200, got ${n}`);
  const bridgeNs = `${prefix}-br`;
  const nodes: LabNode[] = [];
  const pids = new Set<number>();
  let cleaned = false;

  const lab: Lab = {
    prefix,
    bridgeNs,
    nodes,
    track(pid) {
      if (pid !== undefined) pids.add(pid);
    },
    spawn(i, cmd, args, opts = {}) {
      const child = spawnInNetns(nodeAt(i).ns, cmd, args, opts);
      lab.track(child.pid);
      return child;
    },
    exec(i, cmd, args, opts = {}) {
      return execInNetns(nodeAt(i).ns, cmd, args, opts);
    },
    killNow() {
      for (const pid of pids) killPid(pid, 'SIGKILL');
    },
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      lab.killNow();
      // Give the kernel a moment to reap them so their namespaces can go away with them.
      await waitFor(() => [...pids].every((pid) => !isAlive(pid)), { timeoutMs: 3000, what: 'lab processes to die' }).catch(() => undefined);
      const errors: string[] = [];
      for (const ns of [...nodes.map((x) => x.ns), bridgeNs]) {
        await deleteNetns(ns).catch((err: unknown) => errors.push(errorMessage(err)));
      }
      if (errors.length > 0) throw new Error(`lab ${prefix} cleanup: ${errors.join('; ')}`);
    },
  };

  function nodeAt(i: number): LabNode {
    const node = nodes[i];
    if (node === undefined) throw new Error(`lab ${prefix} has no node ${i} (it has ${nodes.length})`);
    return node;
  }

  try {
    ensureNeighbourRoom(n);
    await createNetns(bridgeNs);
    await run('ip', ['-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge']);
    await run('ip', ['-n', bridgeNs, 'link', 'set', 'br0', 'up']);
    for (let i = 0; i < n; i++) {
      const ns = `${prefix}-n${i}`;
      const address = underlayAddress(i);
      // An IPv6-only underlay: the node's underlay address is the IPv6 one.
      const node: LabNode = families === 'ipv6'
        ? { index: i, ns, ifname: 'eth0', address: underlayAddress6(i), cidr: `${underlayAddress6(i)}/${UNDERLAY6_PREFIX}` }
        : { index: i, ns, ifname: 'eth0', address, cidr: `${address}/${UNDERLAY_PREFIX}` };
      if (families !== 'ipv4') node.address6 = underlayAddress6(i);
      await createNetns(ns);
      nodes.push(node);
      await run('ip', ['-n', bridgeNs, 'link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await run('ip', ['-n', bridgeNs, 'link', 'set', `v${i}`, 'master', 'br0', 'up']);
      if (families !== 'ipv6') await run('ip', ['-n', ns, 'addr', 'add', node.cidr, 'dev', 'eth0']);
      if (node.address6 !== undefined) {
        await run('ip', ['-n', ns, '-6', 'addr', 'add', `${node.address6}/${UNDERLAY6_PREFIX}`, 'dev', 'eth0', 'nodad']);
      }
      await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    }
  } catch (err) {
    // createNetns may have made a namespace whose node was never pushed.
    await lab.cleanup().catch(() => undefined);
    for (let i = nodes.length; i <= n; i++) await deleteNetns(`${prefix}-n${i}`).catch(() => undefined);
    throw err;
  }
  return lab;
}

/**
 * Room in the kernel's neighbour (ARP/NDP) tables for a lab of n nodes that all talk to each
 * other. The tables are one per family for the whole host, namespaces included, and their hard
 * limit (gc_thresh3) defaults to 1024 entries: a 32-node full mesh needs ~1000, a 64-node one
 * ~4000, and past the limit a namespace cannot resolve a new neighbour ("No buffer space
 * available": connections hang in SYN-SENT), which looks exactly like an overloaded mesh.
 * The limits are raised, never lowered, and only as far as this lab needs with room for others.
 */
const NEIGHBOUR_ROOM_PER_PAIR = 4;

function ensureNeighbourRoom(n: number): void {
  const want = Math.max(1024, NEIGHBOUR_ROOM_PER_PAIR * n * n);
  for (const family of ['ipv4', 'ipv6']) {
    for (const [name, value] of [['gc_thresh3', want], ['gc_thresh2', want / 2]] as const) {
      const path = `/proc/sys/net/${family}/neigh/default/${name}`;
      try {
        if (Number(readFileSync(path, 'utf8').trim()) < value) writeFileSync(path, `${Math.ceil(value)}\n`);
      } catch (err) {
        throw new Error(`cannot make room in the host's ${family} neighbour table for ${n} nodes (${path}): ${errorMessage(err)}`, { cause: err });
      }
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
