// Phase 2 of a node, still as root: the control plane and what answers peers.
//   1. registry, sessions, the peer API client, membership and the authenticator
//      (node/control-plane.ts); their changes fire one signal the later phases listen to
//   2. the main process's receive path: the detached TUN queue it writes to, the fast-path
//      upgrades that reach the API port and the original's JSON packets
//   3. the status views, the HTTPS API (+ the fast-path upgrade) on the listen port, the status
//      socket
// Membership does not start here: the address claim (phase-claim.ts) or, without an allocated
// address, the node once its data plane runs (node/run.ts) starts it.
// stop() closes, last-first: the status socket, the API with the channels upgraded on it, the
// receive path, the TUN queue, the peer client's sockets.
import type https from 'node:https';
import type { TunmeshConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { createReceivePath, type ReceivePath } from '../dataplane/receive.js';
import { TunQueue } from '../tun/queue.js';
import { nowSeconds as now } from '../auth/clock.js';
import { NodeViews } from '../status/views.js';
import { serveStatusSocket } from '../status/socket.js';
import { buildControlPlane, type ControlPlane } from './control-plane.js';
import { peerPaths } from './data-plane.js';
import { startApi } from './api.js';
import { closeServer } from '../api/server.js';
import { ChangeSignal } from './change-signal.js';
import type { Boot } from './phase-boot.js';
import { startPhase, type StopStack, type Stoppable } from './stop-stack.js';

export interface ControlPhaseOptions {
  config: TunmeshConfig;
  log: Logger;
  boot: Boot;
  startedAt: number;
}

export interface ControlPhase extends Stoppable {
  cp: ControlPlane;
  /** Peers or sessions changed: what the data plane routes by must be published again. */
  changes: ChangeSignal;
  rx: ReceivePath;
  views: NodeViews;
  server: https.Server;
  /** True while an inbound session key is live (the upgrade checks of channels ask it). */
  keyLive: (keyId: string) => boolean;
  /** Counts a refused peer request by reason. */
  onRefused: (reason: string) => void;
}

export function startControlPlane(o: ControlPhaseOptions): Promise<ControlPhase> {
  const { config, log, boot } = o;
  return startPhase(log, async (steps) => {
    const changes = new ChangeSignal();
    const cp = buildControlPlane({ config, self: boot.self, keyPair: boot.keyPair, caPem: boot.security.tls.ca, security: boot.security, metrics: boot.metrics, timing: boot.timing, log, now, onChange: changes.fire });
    steps.push(() => cp.http.close());
    const keyLive = (keyId: string): boolean => cp.sessions.inbound.lookup(keyId, now()) !== undefined;
    const onRefused = (reason: string): void => void boot.metrics.authFailures.labels(reason).inc();
    const rx = startReceivePath(o, cp, { keyLive, onRefused }, steps);
    const views = new NodeViews({
      config,
      self: boot.self,
      startedAt: o.startedAt,
      mesh: cp,
      metrics: boot.metrics,
      now,
      tunUp: () => boot.tun.isUp(),
      workers: () => boot.workers.current,
      ...peerPaths(config, boot.self),
      offloads: boot.tun.vnetHeader ? boot.tun.offloads : 0,
      firewall: boot.firewall ?? undefined,
      peerCerts: boot.security.peerCerts,
    });
    const server = await startApi({ config, log, tls: boot.security.tls, self: boot.self, cp, rx, views, metrics: boot.metrics, security: boot.security });
    // Upgraded fast channels are not the server's to close: end them first, or close() waits.
    steps.push(() => {
      rx.close();
      return closeServer(server);
    });
    if (config.statusSocket) {
      const statusServer = await serveStatusSocket(config.statusSocket, config.process.uid, config.process.gid, () => views.status());
      steps.push(() => new Promise<void>((resolve) => statusServer.close(() => resolve())));
    }
    return { cp, changes, rx, views, server, keyLive, onRefused };
  });
}

/** The receive path of the main process, writing into the detached TUN queue. */
function startReceivePath(o: ControlPhaseOptions, cp: ControlPlane, checks: Pick<ControlPhase, 'keyLive' | 'onRefused'>, steps: StopStack): ReceivePath {
  const { config, log, boot } = o;
  // batchSize 1: this queue is never read, so its read buffer stays one slot.
  const rxQueue = new TunQueue(boot.rxQueueFd, { mtu: 65535, batchSize: 1, closeFd: false, vnetHeader: boot.tun.vnetHeader });
  steps.push(() => rxQueue.close());
  const rx = createReceivePath({
    tun: rxQueue,
    receiver: 'main',
    metrics: boot.metrics.dataPlane,
    authenticate: async (header, body, mode, peerId, socket) => cp.authenticator.authenticate(header, body, mode, peerId, boot.security.policy.inspect(socket)),
    keyLive: checks.keyLive,
    onRefused: checks.onRefused,
    log,
    packetExpiration: config.process.timing.network.mesh.packetExpiration,
    observeLatency: (peerId, seconds) => boot.metrics.latency.observe(peerId, seconds),
    vnetHeader: boot.tun.vnetHeader,
  });
  steps.push(() => rx.close());
  return rx;
}
