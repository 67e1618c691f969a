// A data-plane worker process (forked from dist/workers/worker.js): process plumbing only. It owns
// one TUN queue, inherited as fd 4, runs the send path on it (dataplane/send.ts) toward the peers
// the main process names in its `state` messages, and receives the fast channels main hands it
// from the channel port (dataplane/fast/channel-server.ts), writing their packets through the same
// queue (dataplane/receive.ts). It exits 0 on `shutdown`, or when the IPC channel closes (the
// main process died).
import type { Socket } from 'node:net';
import { Registry } from 'prom-client';
import { type DataPlaneSettings, type MetricsScope, type DataPlaneState, type MainToWorker, type WorkerToMain } from '../dataplane/contract.js';
import { createReceivePath, type ReceivePath } from '../dataplane/receive.js';
import { SessionSigner } from '../dataplane/session-token.js';
import { lazyLogger, type LogFormat, type LogLevel } from '../log/logger.js';
import { DataPlaneMetrics, peerTrafficJson } from '../dataplane/metrics.js';
import { collectProcessMetrics } from '../metrics/process.js';
import { DEFAULT_BATCH_SIZE, TunQueue } from '../tun/queue.js';
import { ChannelServer } from '../dataplane/fast/channel-server.js';
import { SendPath } from '../dataplane/send.js';
import { UpgradeChecks } from '../dataplane/fast/upgrade-checks.js';

/** stdio[4] of the fork: 0-2 inherited, 3 the IPC channel. */
const WORKER_QUEUE_FD = 4;

const index = Number(process.argv[2] ?? 0);
const registry = new Registry();
const metrics = new DataPlaneMetrics(registry);
collectProcessMetrics(registry, 'tunmesh_worker_');
let settings: DataPlaneSettings | undefined;
let log = lazyLogger('info');

/** What runs once the first state names us and our peers. */
interface Running {
  send: SendPath;
  rx: ReceivePath;
  channels: ChannelServer;
  checks: UpgradeChecks;
}
let running: Running | undefined;

function tell(msg: WorkerToMain): void {
  if (process.connected) process.send?.(msg);
}

function start(s: DataPlaneSettings, state: DataPlaneState): Running {
  const queue = new TunQueue(WORKER_QUEUE_FD, { mtu: state.mtu, batchSize: DEFAULT_BATCH_SIZE, vnetHeader: s.vnetHeader === true });
  queue.onError((err) => {
    log.error('TUN queue failed', { error: err.message });
    exit(1);
  });
  const signer = new SessionSigner(state.selfId, s.earlyValidityWindow, s.validityWindow, s.tokenClaims);
  const onRejected = (peerId: string, sessionId: string): void => tell({ type: 'session_rejected', worker: index, peerId, sessionId });
  const send = new SendPath(queue, { settings: s, signer, metrics, onRejected, log });
  const checks = new UpgradeChecks(index, tell, s.requestTimeoutMs);
  const rx = createReceivePath({
    tun: queue,
    metrics,
    authenticate: (header, _body, _mode, peerId, socket) => checks.check(header, peerId, socket),
    log,
    vnetHeader: s.vnetHeader === true,
    receiver: 'worker',
  });
  return { send, rx, checks, channels: new ChannelServer(s, rx, log) };
}

function onState(state: DataPlaneState): void {
  if (settings === undefined) throw new Error('state before settings');
  const first = running === undefined;
  running ??= start(settings, state);
  running.send.setState(state);
  running.rx.setState(state);
  if (first) tell({ type: 'ready', worker: index });
}

function onMessage(msg: MainToWorker, handle: unknown): void {
  switch (msg.type) {
    case 'settings':
      // A reload replaces the values in place: transports read them at their next connection.
      if (settings === undefined) settings = msg.settings;
      else Object.assign(settings, msg.settings);
      log = lazyLogger(msg.settings.logLevel as LogLevel, msg.settings.logFormat as LogFormat, { component: `worker-${index}` });
      running?.channels.setSettings(settings);
      return;
    case 'state':
      return onState(msg.state);
    case 'channel_socket':
      // Before our first state there is no receive path yet: the sender reconnects.
      if (running === undefined) (handle as Socket | undefined)?.destroy();
      else if (handle !== undefined) running.channels.accept(handle as Socket);
      return;
    case 'upgrade_verdict':
      return running?.checks.settle(msg.id, msg.verdict);
    case 'sessions_ended': {
      const ended = new Set(msg.keyIds);
      return running?.rx.endSessions((keyId) => !ended.has(keyId));
    }
    case 'metrics_request':
      return void answerMetrics(msg.id, msg.scope);
    case 'shutdown':
      exit(0);
  }
}

function exit(code: number): void {
  if (running !== undefined) {
    running.channels.close();
    running.checks.close();
    running.rx.close();
    running.send.close();
  }
  process.exit(code);
}

process.on('message', (msg: MainToWorker, handle: unknown) => onMessage(msg, handle));
process.on('disconnect', () => exit(0));
/** A scrape gets the whole registry; the status view's refresh only the per-peer traffic series. */
function answerMetrics(id: number, scope: MetricsScope): void {
  const json: Promise<unknown[]> = scope === 'all' ? registry.getMetricsAsJSON() : peerTrafficJson(registry);
  json
    .then((metrics) => tell({ type: 'metrics', worker: index, id, scope, metrics }))
    .catch((err: unknown) => log.warn('metrics collection failed', { error: String(err) }));
}
