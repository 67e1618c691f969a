// A data-plane worker (forked from dist/workers/worker.js): owns one TUN queue, inherited as fd 4,
// and sends what it reads to the peers the main process names in its `state` messages.
// It exits 0 on `shutdown`, or when the IPC channel closes (the main process died).
import { Registry } from 'prom-client';
import { WORKER_METRICS_INTERVAL_MS, type DataPlaneSettings, type MainToWorker, type WorkerToMain } from '../dataplane/contract.js';
import { SessionSigner } from '../dataplane/session-token.js';
import { lazyLogger, type LogFormat, type LogLevel } from '../log/logger.js';
import { DataPlaneMetrics } from '../metrics/dataplane.js';
import { collectProcessMetrics } from '../metrics/process.js';
import { DEFAULT_BATCH_SIZE, TunQueue } from '../tun/queue.js';
import { SendPath } from './send.js';

/** stdio[4] of the fork: 0-2 inherited, 3 the IPC channel. */
export const WORKER_QUEUE_FD = 4;

const index = Number(process.argv[2] ?? 0);
const registry = new Registry();
const metrics = new DataPlaneMetrics(registry);
collectProcessMetrics(registry, 'tunmesh_worker_');
let settings: DataPlaneSettings | undefined;
let send: SendPath | undefined;
let log = lazyLogger('info');

function tell(msg: WorkerToMain): void {
  if (process.connected) process.send?.(msg);
}

function onMessage(msg: MainToWorker): void {
  switch (msg.type) {
    case 'settings':
      // A reload replaces the values in place: transports read them at their next connection.
      if (settings === undefined) settings = msg.settings;
      else Object.assign(settings, msg.settings);
      log = lazyLogger(msg.settings.logLevel as LogLevel, msg.settings.logFormat as LogFormat, { component: `worker-${index}` });
      return;
    case 'state':
      if (settings === undefined) throw new Error('state before settings');
      if (send === undefined) {
        const queue = new TunQueue(WORKER_QUEUE_FD, { mtu: msg.state.mtu, batchSize: DEFAULT_BATCH_SIZE, vnetHeader: settings.vnetHeader === true });
        queue.onError((err) => {
          log.error('TUN queue failed', { error: err.message });
          exit(1);
        });
        const signer = new SessionSigner(msg.state.selfId, settings.earlyValidityWindow, settings.validityWindow, settings.tokenClaims);
        const onRejected = (peerId: string, sessionId: string): void => tell({ type: 'session_rejected', worker: index, peerId, sessionId });
        send = new SendPath(queue, { settings, signer, metrics, onRejected, log });
        send.setState(msg.state);
        tell({ type: 'ready', worker: index });
        return;
      }
      send.setState(msg.state);
      return;
    case 'shutdown':
      exit(0);
  }
}

function exit(code: number): void {
  send?.close();
  process.exit(code);
}

process.on('message', (msg: MainToWorker) => onMessage(msg));
process.on('disconnect', () => exit(0));
setInterval(() => {
  registry
    .getMetricsAsJSON()
    .then((json) => tell({ type: 'metrics', worker: index, metrics: json }))
    .catch((err: unknown) => log.warn('metrics collection failed', { error: String(err) }));
}, WORKER_METRICS_INTERVAL_MS).unref();
