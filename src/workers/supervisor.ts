// Starts the data-plane workers and keeps them running: one forked process per TUN queue, the
// queue's fd passed as the child's fd 4. A worker that dies is restarted with the same queue and
// the last settings and state, at most MAX_RESTARTS per RESTART_WINDOW_MS per worker (a worker
// that keeps crashing is left down, and logged, instead of spinning).
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { DataPlaneSettings, DataPlaneState, MainToWorker, MetricsScope, WorkerToMain } from '../dataplane/contract.js';
import type { Logger } from '../log/logger.js';

export const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
const RESTART_DELAY_MS = 100;
/**
 * Connections to the channel port wait this long, at most MAX_WAITING of them, for a worker
 * while none can take them (one restarting, or none given its first state yet): handed over
 * then, the peer keeps its channel port instead of falling back to the API port.
 */
const HANDOFF_WAIT_MS = 2000;
const MAX_WAITING = 64;

export interface WorkerOptions {
  count: number;
  /** One TUN queue fd per worker. */
  queueFds: readonly number[];
  settings: DataPlaneSettings;
  /** The worker module: dist/workers/worker.js in production. */
  entry: string;
  /** Node options for the children, e.g. ['--import', 'tsx'] to run the .ts entry in tests. */
  execArgv?: string[];
  log: Logger;
  onMessage?(msg: WorkerToMain): void;
}

export interface Supervisor {
  publish(state: DataPlaneState): void;
  /** New settings (reloaded TLS material) to every worker, and to those restarted later. */
  updateSettings(settings: DataPlaneSettings): void;
  /** A connection to the channel port, for the next running worker (round robin), or held briefly until one runs; false: refused. */
  handOff(socket: Socket): boolean;
  /** A message to worker `index`, if it runs. */
  tell(index: number, msg: MainToWorker): void;
  /** A message to every running worker. */
  broadcast(msg: MainToWorker): void;
  stop(timeoutMs: number): Promise<void>;
  /**
   * Each running worker's prom-client JSON (`scope`: all, or the per-peer series), asked for now;
   * a worker that does not answer within METRICS_ANSWER_MS is represented by its last answer.
   */
  collectMetrics(scope: MetricsScope): Promise<unknown[]>;
  alive(): number;
  /** PIDs of the running workers, by worker index (undefined while one is down). */
  pids(): Array<number | undefined>;
}

interface Slot {
  index: number;
  fd: number;
  child: ChildProcess | undefined;
  restarts: number[];
  /** The last answer to a metrics_request, by scope. */
  metrics: Partial<Record<MetricsScope, unknown>>;
}

/** How long a scrape or a status refresh waits for a worker's metrics before using its last ones. */
const METRICS_ANSWER_MS = 1000;

export function startWorkers(opts: WorkerOptions): Supervisor {
  if (opts.queueFds.length !== opts.count) throw new Error(`${opts.count} workers need ${opts.count} queue fds, got ${opts.queueFds.length}`);
  let state: DataPlaneState | undefined;
  let settings = opts.settings;
  let stopping = false;
  let nextHandOff = 0;
  const waiting: Array<{ socket: Socket; timer: NodeJS.Timeout }> = [];
  const slots: Slot[] = opts.queueFds.map((fd, index) => ({ index, fd, child: undefined, restarts: [], metrics: {} }));
  let nextRequest = 0;
  const answers = new Map<number, (metrics: unknown) => void>();

  const send = (slot: Slot, msg: MainToWorker): void => {
    if (slot.child?.connected === true) slot.child.send(msg);
  };
  const sendAll = (msg: MainToWorker): void => {
    for (const slot of slots) send(slot, msg);
  };

  const spawn = (slot: Slot): void => {
    const child = fork(opts.entry, [String(slot.index)], {
      stdio: ['inherit', 'inherit', 'inherit', 'ipc', slot.fd],
      execArgv: opts.execArgv ?? [],
    });
    slot.child = child;
    child.on('message', (msg: WorkerToMain) => {
      if (msg.type === 'metrics') {
        slot.metrics[msg.scope] = msg.metrics;
        answers.get(msg.id)?.(msg.metrics);
      }
      opts.onMessage?.(msg);
    });
    child.on('error', (err) => opts.log.warn('worker error', { worker: slot.index, error: err.message }));
    child.once('exit', (code, signal) => onExit(slot, child, code, signal));
    send(slot, { type: 'settings', settings });
    if (state !== undefined) send(slot, { type: 'state', state });
    drainWaiting();
  };

  /**
   * A connection to the next worker that can serve it (running, and given a state: it has a
   * receive path), round robin. The handle goes to the child and is closed here once sent.
   */
  const handOffNow = (socket: Socket): boolean => {
    if (state === undefined) return false;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[(nextHandOff + i) % slots.length]!;
      if (slot.child?.connected !== true) continue;
      nextHandOff = (slot.index + 1) % slots.length;
      slot.child.send({ type: 'channel_socket' } satisfies MainToWorker, socket, (err) => {
        if (err) socket.destroy();
      });
      return true;
    }
    return false;
  };

  const askMetrics = (slot: Slot, scope: MetricsScope): Promise<unknown> =>
    new Promise((resolve) => {
      if (slot.child?.connected !== true) return resolve(undefined);
      const id = ++nextRequest;
      const done = (metrics: unknown): void => {
        clearTimeout(timer);
        answers.delete(id);
        resolve(metrics);
      };
      const timer = setTimeout(() => done(slot.metrics[scope]), METRICS_ANSWER_MS);
      answers.set(id, done);
      send(slot, { type: 'metrics_request', id, scope });
    });

  const drainWaiting = (): void => {
    while (waiting.length > 0 && handOffNow(waiting[0]!.socket)) clearTimeout(waiting.shift()!.timer);
  };

  const onExit = (slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void => {
    if (slot.child !== child) return;
    slot.child = undefined;
    slot.metrics = {};
    if (stopping) return;
    const now = Date.now();
    slot.restarts = slot.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (slot.restarts.length >= MAX_RESTARTS) {
      opts.log.error('worker keeps dying; not restarting it', { worker: slot.index, code, signal, restarts: slot.restarts.length });
      return;
    }
    slot.restarts.push(now);
    opts.log.warn('worker died; restarting it', { worker: slot.index, pid: child.pid, code, signal });
    setTimeout(() => {
      if (!stopping) spawn(slot);
    }, RESTART_DELAY_MS).unref();
  };

  for (const slot of slots) spawn(slot);

  return {
    publish(next) {
      state = next;
      sendAll({ type: 'state', state: next });
      drainWaiting();
    },
    updateSettings(next) {
      settings = next;
      sendAll({ type: 'settings', settings: next });
    },
    handOff(socket) {
      if (handOffNow(socket)) return true;
      if (stopping || waiting.length >= MAX_WAITING) return false;
      const timer = setTimeout(() => {
        const at = waiting.findIndex((w) => w.socket === socket);
        if (at >= 0) waiting.splice(at, 1);
        socket.destroy();
      }, HANDOFF_WAIT_MS).unref();
      waiting.push({ socket, timer });
      return true;
    },
    tell(index, msg) {
      const slot = slots[index];
      if (slot !== undefined) send(slot, msg);
    },
    broadcast: (msg) => sendAll(msg),
    async stop(timeoutMs) {
      stopping = true;
      for (const w of waiting.splice(0)) {
        clearTimeout(w.timer);
        w.socket.destroy();
      }
      const exits = slots.map((slot) => {
        const child = slot.child;
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
        return new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, timeoutMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          send(slot, { type: 'shutdown' });
        });
      });
      await Promise.all(exits);
    },
    async collectMetrics(scope) {
      const all = await Promise.all(slots.map((slot) => askMetrics(slot, scope)));
      return all.filter((m) => m !== undefined);
    },
    alive() {
      return slots.filter((s) => s.child !== undefined).length;
    },
    pids() {
      return slots.map((s) => s.child?.pid);
    },
  };
}
