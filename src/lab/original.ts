// The original Ruby Tun Mesh v0.7 as a lab node, for interoperability tests: build it once (its
// build.sh, from ../shared/original or $TUNMESH_ORIGINAL_SRC), derive its config from a tunmesh
// lab config, run it in a namespace as its own process group, and stop that whole group.
// No line of the original lives here: this only invokes its build.sh and run-node.sh.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { cleanupOnExit, killPid, run, waitFor, ProcessOutput } from './netns.js';
import { errorMessage } from '../log/error-message.js';

/** build.sh may apt-get install Ruby first; ~10 s after that. */
const BUILD_TIMEOUT_MS = 5 * 60_000;
/** Another process building the same folder: wait for it a little longer than its build. */
const LOCK_WAIT_MS = BUILD_TIMEOUT_MS + 60_000;
const BUILT_MARKER = '.tunmesh-lab-built';

let built: Promise<string> | undefined;

/**
 * The path of run-node.sh of a built original, building it when needed (once per process):
 * $TUNMESH_ORIGINAL_BUILD when it already holds run-node.sh, else a build of
 * $TUNMESH_ORIGINAL_SRC (default <repo>/../shared/original) into $TUNMESH_ORIGINAL_BUILD or a
 * fixed folder /tmp/tunmesh-original-<uid>-<hash>, shared by concurrent processes under a lock.
 */
export function ensureOriginalBuilt(): Promise<string> {
  built ??= buildOnce().catch((err: unknown) => {
    built = undefined; // let a later call try again (e.g. after apt-get became reachable)
    throw err;
  });
  return built;
}

async function buildOnce(): Promise<string> {
  const preset = process.env.TUNMESH_ORIGINAL_BUILD;
  if (preset && existsSync(join(preset, 'run-node.sh'))) return join(resolve(preset), 'run-node.sh');
  const src = resolve(process.env.TUNMESH_ORIGINAL_SRC ?? fileURLToPath(new URL('../../../shared/original', import.meta.url)));
  const buildScript = join(src, 'build.sh');
  if (!existsSync(buildScript)) {
    throw new Error(`the original Tun Mesh source is missing: no ${buildScript} (set TUNMESH_ORIGINAL_SRC to the folder holding build.sh, app/ and gems/)`);
  }
  const dest = resolve(preset ?? join('/tmp', `tunmesh-original-${process.getuid?.() ?? 0}-${buildHash(src, buildScript)}`));
  // build.sh starts with `rm -rf DEST`: never point it at a folder of someone else's files.
  if (preset && existsSync(dest) && readdirSync(dest).length > 0 && !existsSync(join(dest, BUILT_MARKER))) {
    throw new Error(`TUNMESH_ORIGINAL_BUILD=${dest} is neither a built original (no run-node.sh) nor empty; refusing to build over it`);
  }
  return withLock(`${dest}.lock`, async () => {
    const runNode = join(dest, 'run-node.sh');
    if (existsSync(join(dest, BUILT_MARKER)) && existsSync(runNode)) return runNode;
    await run(buildScript, [dest], { timeoutMs: BUILD_TIMEOUT_MS });
    // The original drops to an unprivileged uid and then loads code lazily from here.
    await run('chmod', ['-R', 'a+rX', dest]);
    chmodSync(dest, 0o755);
    assertTraversable(dest);
    writeFileSync(join(dest, BUILT_MARKER), `${new Date().toISOString()} from ${src}\n`);
    return runNode;
  });
}

/** A new build folder whenever build.sh changes (its mtime) or the source moves. */
function buildHash(src: string, buildScript: string): string {
  return createHash('sha256').update(`${src}\0${statSync(buildScript).mtimeMs}`).digest('hex').slice(0, 12);
}

/** Runs `fn` holding an O_EXCL lock file; a lock whose owner PID is dead is taken over. */
async function withLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  await waitFor(() => tryLock(lockPath), { timeoutMs: LOCK_WAIT_MS, intervalMs: 500, what: `the original's build lock ${lockPath}` });
  try {
    return await fn();
  } finally {
    unlinkSync(lockPath);
  }
}

function tryLock(lockPath: string): boolean {
  try {
    const fd = openSync(lockPath, 'wx', 0o644);
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const owner = Number(readFileSync(lockPath, 'utf8').trim());
  if (Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) unlinkSync(lockPath);
  return false;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Throws unless every folder from `path` up to / lets other users through: the original's
 * processes run as the lab's unprivileged uid and open files below it (build, TLS key).
 */
export function assertTraversable(path: string): void {
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) {
      throw new Error(`${dir} is not searchable by other users (mode ${(statSync(dir).mode & 0o777).toString(8)}): the original node, running unprivileged, cannot reach ${path}`);
    }
    if (dir === '/') return;
  }
}

/** The original's config: the same YAML without tunmesh's `tunmesh:` block (it refuses unknown keys). */
export function originalConfigYaml(tunmeshYaml: string): string {
  const doc = parse(tunmeshYaml) as Record<string, unknown>;
  delete doc.tunmesh;
  // YAML.safe_load in the original refuses aliases.
  return stringify(doc, { aliasDuplicateObjects: false });
}

/**
 * The ids an original node knows: GET /tunmesh/control/v0/registrations (unauthenticated in the
 * original) answers {nodes: {<id>: {node_info, stamp, stale}}, node_ids_by_address}.
 */
export function parseOriginalRegistrations(body: string): string[] {
  const doc = JSON.parse(body) as { nodes?: Record<string, unknown> };
  if (doc.nodes === null || typeof doc.nodes !== 'object') throw new Error(`not a registrations document: ${body.slice(0, 200)}`);
  return Object.keys(doc.nodes);
}

/** Process groups of originals still running, killed if this process exits without stopping them. */
const liveGroups = new Set<number>();
const installExitHook = cleanupOnExit(liveGroups, (pgid) => signalGroup(pgid, 'SIGKILL'));

/** Live (non-zombie) members of a process group, from /proc (a zombie would fool kill(-pgid, 0)). */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') members.push(Number(entry));
  }
  return members;
}

/** A negative PID signals the whole process group (kill(2)). */
function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  killPid(-pgid, signal);
}

export interface OriginalStartOptions {
  ns: string;
  runNode: string;
  configPath: string;
  pidPath: string;
  logPath: string;
}

/**
 * One running original: `ip netns exec NS run-node.sh CONFIG PIDFILE` in a new session
 * (spawn's `detached` is setsid(2) in the child, so the child's PID is the group id), output
 * appended to the node's log. It forks an API (Puma) and a TUN process into the same group.
 */
export class OriginalProcess {
  private constructor(
    readonly output: ProcessOutput,
    readonly pgid: number,
  ) {}

  static start(o: OriginalStartOptions): OriginalProcess {
    installExitHook();
    const logFd = openSync(o.logPath, 'a');
    const child = spawn('ip', ['netns', 'exec', o.ns, o.runNode, o.configPath, o.pidPath], { detached: true, stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    if (child.pid === undefined) throw new Error(`could not start the original node in ${o.ns}`);
    liveGroups.add(child.pid);
    return new OriginalProcess(new ProcessOutput(child), child.pid);
  }

  get running(): boolean {
    return groupMembers(this.pgid).length > 0;
  }

  /** The group leader (the Ruby parent) exited. Its children may still run: see stop(). */
  get leaderExited(): boolean {
    return this.output.exited;
  }

  /**
   * `signal` to the whole group, then SIGKILL if anything is left after `timeoutMs`; resolves
   * once no process of the group is left, with the leader's exit code (null if signalled).
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | null> {
    if (!liveGroups.has(this.pgid)) return this.output.exitCode;
    if (this.running) signalGroup(this.pgid, signal);
    const gone = await this.waitGone(timeoutMs);
    if (!gone) {
      signalGroup(this.pgid, 'SIGKILL');
      if (!(await this.waitGone(5000))) throw new Error(`original process group ${this.pgid} survived SIGKILL: ${groupMembers(this.pgid).join(', ')}`);
    }
    liveGroups.delete(this.pgid);
    // The leader is our child: wait for Node to reap it so exitCode is known.
    await this.output.waitForExit(2000).catch(() => undefined);
    return this.output.exitCode;
  }

  /** Leave it running after this process exits (demo --keep): the exit hook spares it. */
  detach(): void {
    liveGroups.delete(this.pgid);
    this.output.child.unref();
  }

  private async waitGone(timeoutMs: number): Promise<boolean> {
    try {
      await waitFor(() => !this.running, { timeoutMs, intervalMs: 50, what: `original process group ${this.pgid} to exit` });
      return true;
    } catch (err) {
      if (/timed out/.test(errorMessage(err))) return false;
      throw err;
    }
  }
}
