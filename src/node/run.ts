// One tunmesh node: the main process. Start-up order matters (root work first):
//   1. identity, TLS material and deny list (node/security.ts), RSA key pair, metrics
//   2. TUN device with one queue per worker plus a detached write-only queue for received packets
//      (with offloads when the kernel takes them: then the identity announces them); the firewall
//      rules (firewall/, their keeper stays root); the channel port, where workers receive fast
//      channels (announced too, once it listens)
//   3. control plane: registry, sessions, peer API, membership, authenticator
//   4. receive path, HTTPS API (+ the fast-path upgrade) on the listen port, status socket
//   5. with an allocated address: join the mesh and hold the claim window (claim.ts), still
//      privileged, so that a node that must move can start again at its next choice
//   6. watch the TLS and deny-list files (before the drop: the folders may be root's), drop to
//      the configured uid/gid, fork the data-plane workers, publish state, groom, apply reloads
// stop() undoes it in reverse, each step bounded.
import type { TunmeshConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { TlsMaterial } from '../security/tls-bundle.js';
import { serverContextOptions } from '../api/server.js';
import { openTunDevice, type TunDevice } from '../tun/index.js';
import { detachQueue } from '../dataplane/detached-queue.js';
import { generateNodeKeyPair } from '../auth/rsa.js';
import { createIdentity, withDataPlane, type LocalIdentity } from '../mesh/identity.js';
import type { MeshTiming } from '../mesh/timing.js';
import type { NodeKeyPair } from '../mesh/session-manager.js';
import { NodeMetrics } from '../metrics/node.js';
import { createReceivePath } from '../dataplane/receive.js';
import { offloadNames } from '../tun/vnet.js';
import { startWorkers } from '../workers/supervisor.js';
import { TunQueue } from '../tun/queue.js';
import { openChannelPort } from './channel-port.js';
import { ChannelChecks } from './channel-checks.js';
import type { WorkerToMain } from '../dataplane/contract.js';
import { buildControlPlane, peerTarget, type ControlPlane } from './control-plane.js';
import { coalesced, dataPlaneSettings, dataPlaneState, workerEntry } from './data-plane.js';
import { startApi, closeServer } from './api.js';
import { NodeViews } from './views.js';
import type { StatusReport } from './status.js';
import { serveStatusSocket } from './status-socket.js';
import { dropPrivileges } from './privileges.js';
import { meshTiming } from './settings.js';
import { certificateExpiry, type CertificateExpiry } from '../tls/expiry.js';
import { VERSION } from '../version.js';
import { nowSeconds as now } from '../auth/clock.js';
import { errorMessage } from '../log/error-message.js';
import { NodeSecurity, type SecurityAppliers } from './security.js';
import type https from 'node:https';
import type { AddressInUse } from '../mesh/address-claim.js';
import { holdClaimWindow, watchClaim } from './claim.js';
import type { Supervisor } from '../workers/supervisor.js';
import { Firewall } from '../firewall/firewall.js';
import { firewallPeers, reloadFirewall } from './firewall.js';
import { watchFiles } from '../security/file-watch.js';

export interface StartHooks {
  /** After the claim window, our allocated address turned out held by a node that keeps it. */
  addressLost?(err: AddressInUse): void;
  /** Aborted (SIGTERM during start-up): a claim window still open ends the start (StartAborted). */
  signal?: AbortSignal;
}

export interface RunningNode {
  id: string;
  stop(): Promise<void>;
  status(): StatusReport;
  /** SIGHUP: re-read the TLS material, the deny list and the firewall rules. */
  reload(): void;
}

/** Bounded wait for the workers to exit on stop. */
const WORKER_STOP_MS = 5000;

type Undo = () => Promise<void> | void;

interface Started {
  config: TunmeshConfig;
  log: Logger;
  self: LocalIdentity;
  tls: TlsMaterial;
  caPem: Buffer;
  keyPair: NodeKeyPair;
  metrics: NodeMetrics;
  security: NodeSecurity;
  tun: TunDevice;
  /** Where the channel port hands its connections (the workers, once forked). */
  handOff: { to: Supervisor | undefined };
  /** tunmesh.firewall in force (its keeper stays root); null: no firewall, all allowed. */
  firewall: Firewall | null;
  timing: MeshTiming;
  startedAt: number;
  /** Undo steps, in start order; run in reverse on stop or on a failed start. */
  cleanup: Undo[];
  hooks: StartHooks;
}

export async function startNode(config: TunmeshConfig, log: Logger, hooks: StartHooks = {}): Promise<RunningNode> {
  const startedAt = now();
  const ipv4 = config.networking.ipv4;
  // 1. identity, TLS, keys, metrics
  const identity = createIdentity({
    listenUrl: config.clustering.controlApiAdvertiseUrl,
    networkCidr: ipv4.networkCidr,
    nodeAddressCidr: ipv4.nodeAddressCidr,
    fastPath: config.dataPlane.fastPath,
    ipv6AddressCidr: config.networking.ipv6?.nodeAddressCidr ?? null,
    mtu: config.networking.mtu,
    claiming: config.networking.ipv4.allocationSeed !== null,
  });
  log.info('starting node', {
    component: 'node',
    id: identity.id,
    url: identity.info.listen_url,
    address: ipv4.nodeAddressCidr,
    ...(config.networking.ipv6 ? { address6: config.networking.ipv6.nodeAddressCidr } : {}),
    version: VERSION,
    workers: config.process.workers,
    workersReason: config.process.workersReason,
  });
  const metrics = new NodeMetrics({
    nodeId: identity.id,
    version: VERSION,
    baseLabels: { ...config.monitoring.prometheus.baseLabels },
    perPeerLegacy: config.monitoring.enableNodePacketMetrics,
    startStamp: Math.floor(startedAt),
    // Read at scrape time from the material in use, so a reload moves it.
    certificateNotAfter: (): CertificateExpiry => certificateExpiry(security.tls),
  });
  const security = new NodeSecurity(config, log, metrics.security);
  const tls = security.tls;
  const caPem = tls.ca;
  const keyPair = await generateNodeKeyPair(config.clustering.auth.pubKeySize);

  // 2. TUN: N worker queues + 1 detached queue the main process writes received packets to
  const tun = await openTunDevice({
    name: config.networking.tunDeviceId,
    queues: config.process.workers + 1,
    mtu: config.networking.mtu,
    addressCidr: ipv4.nodeAddressCidr,
    routeCidr: ipv4.networkCidr,
    ...(config.networking.ipv6 ? { ipv6: { addressCidr: config.networking.ipv6.nodeAddressCidr, routeCidr: config.networking.ipv6.networkCidr } } : {}),
    // Super-packets only ever leave on the fast path: without it offloads buy nothing.
    offload: config.dataPlane.fastPath ? config.dataPlane.offload : 'off',
  });
  logOffloads(log, config, tun);
  const handOff: Started['handOff'] = { to: undefined };
  const started: Started = { config, log, self: identity, tls, caPem, keyPair, metrics, security, tun, handOff, firewall: null, timing: meshTiming(config), startedAt, cleanup: [() => tun.close()], hooks };
  try {
    await startFirewall(started);
    detachQueue(rxQueueFd(started));
    const channels = config.dataPlane.fastPath && config.dataPlane.channelPort !== 0
      ? await openChannelPort(config.dataPlane.channelPort, config.controlApi.listenAddress || undefined, (socket) => handOff.to?.handOff(socket) ?? false, log)
      : null;
    if (channels !== null) started.cleanup.push(() => channels.close());
    started.self = withDataPlane(identity, { offload: tun.vnetHeader, channelPort: channels?.port });
    return await startServices(started);
  } catch (err) {
    await undoAll(started);
    throw err;
  }
}

/** Before any packet can cross: the rules are in force once the TUN exists (root, like the TUN). */
async function startFirewall(s: Started): Promise<void> {
  if (s.config.firewall === null) return;
  const firewall = await Firewall.start(s.config.firewall, { device: s.config.networking.tunDeviceId, configPath: s.config.source, log: s.log, metrics: s.metrics.firewall });
  s.firewall = firewall;
  s.cleanup.push(() => firewall.stop());
}

const rxQueueFd = (s: Started): number => s.tun.queueFds[s.config.process.workers] as number;

function logOffloads(log: Logger, config: TunmeshConfig, tun: TunDevice): void {
  const component = 'tun';
  if (tun.vnetHeader) log.info('TUN offloads enabled', { component, offloads: offloadNames(tun.offloads).join(',') });
  else if (tun.offloadFallback !== undefined) log.warn('TUN offloads unavailable; running without', { component, reason: tun.offloadFallback });
  else log.info('TUN offloads off', { component, reason: config.dataPlane.fastPath ? 'data_plane.offload is off' : 'the fast path is off' });
}

async function startServices(s: Started): Promise<RunningNode> {
  const { config, log, self, metrics } = s;
  let publishSoon: () => void = () => undefined;
  let checkClaim: () => void = () => undefined;

  // 3. control plane
  const cp = buildControlPlane({
    ...s,
    now,
    onChange: () => {
      publishSoon();
      checkClaim();
    },
  });
  s.cleanup.push(() => cp.http.close());

  // 4. receive path, API, status socket (the checks of channels upgraded here and in the workers)
  const keyLive = (keyId: string): boolean => cp.sessions.inbound.lookup(keyId, now()) !== undefined;
  const onRefused = (reason: string): void => void metrics.authFailures.labels(reason).inc();
  // batchSize 1: this queue is never read, so its read buffer stays one slot.
  const rxQueue = new TunQueue(rxQueueFd(s), { mtu: 65535, batchSize: 1, closeFd: false, vnetHeader: s.tun.vnetHeader });
  s.cleanup.push(() => rxQueue.close());
  const rx = createReceivePath({
    tun: rxQueue,
    receiver: 'main',
    metrics: metrics.dataPlane,
    authenticate: async (header, body, mode, peerId, socket) => cp.authenticator.authenticate(header, body, mode, peerId, s.security.policy.inspect(socket)),
    keyLive,
    onRefused,
    log,
    packetExpiration: config.process.timing.network.mesh.packetExpiration,
    observeLatency: (peerId, seconds) => metrics.latency.observe(peerId, seconds),
    vnetHeader: s.tun.vnetHeader,
  });
  s.cleanup.push(() => rx.close());
  const views = new NodeViews({ config, self, startedAt: s.startedAt, cp, metrics, now, tunUp: () => s.tun.isUp(), peerCerts: s.security.peerCerts });
  const server = await startApi({ config, log, tls: s.tls, self, cp, rx, views, metrics, security: s.security });
  // Upgraded fast channels are not the server's to close: end them first, or close() waits.
  s.cleanup.push(() => {
    rx.close();
    return closeServer(server);
  });
  if (config.statusSocket) {
    const statusServer = await serveStatusSocket(config.statusSocket, config.process.uid, config.process.gid, () => views.status());
    s.cleanup.push(() => new Promise<void>((resolve) => statusServer.close(() => resolve())));
  }

  // 5. an allocated address is claimed before the drop (a move starts the node again)
  const allocated = config.networking.ipv4.allocationSeed !== null;
  if (allocated) {
    cp.membership.start();
    s.cleanup.push(() => cp.membership.stop());
    await holdClaimWindow(cp, self, s.timing, now, log, s.hooks.signal);
    checkClaim = watchClaim(cp, self, (err) => s.hooks.addressLost?.(err));
  }

  // 6. watch files, drop privileges, fork workers, publish state, groom, apply reloads
  s.security.watchFiles();
  s.cleanup.push(() => s.security.stop());
  const reloadRules = (why: string): void => void reloadFirewall(config, s.firewall, log, metrics.security, why);
  if (s.firewall !== null) {
    const watch = watchFiles([config.source], () => reloadRules('file change'), (dir, err) => log.warn('cannot watch the config folder for firewall rule changes; SIGHUP still reloads', { component: 'firewall', dir, error: err.message }));
    s.cleanup.push(() => watch.close());
  }
  if (dropPrivileges(config.process.uid, config.process.gid) === 'dropped') {
    log.info('dropped privileges', { component: 'node', uid: config.process.uid, gid: config.process.gid });
  }
  const supervisor = startWorkers({
    count: config.process.workers,
    queueFds: s.tun.queueFds.slice(0, config.process.workers),
    settings: dataPlaneSettings(config, s.security.tls, self.tokenClaims, s.tun.vnetHeader),
    ...workerEntry(),
    log,
    onMessage: (msg) => onWorkerMessage(cp, checks, msg),
  });
  const checks = new ChannelChecks({
    authenticate: async (header, peerId, cert) => cp.authenticator.authenticate(header, Buffer.alloc(0), 'session', peerId, s.security.policy.judge(cert)),
    keyLive,
    onRefused,
    tell: (worker, msg) => supervisor.tell(worker, msg),
    broadcast: (msg) => supervisor.broadcast(msg),
    log,
  });
  s.handOff.to = supervisor;
  views.supervisor = supervisor;
  s.cleanup.push(() => supervisor.stop(WORKER_STOP_MS));
  s.cleanup.push(() => {
    s.handOff.to = undefined;
    checks.stop();
  });
  views.offloads = s.tun.vnetHeader ? s.tun.offloads : 0;
  views.firewall = s.firewall ?? undefined;
  publishSoon = coalesced(() => {
    const state = dataPlaneState(config, self.id, cp, s.tun.vnetHeader);
    supervisor.publish(state);
    rx.setState(state);
    s.firewall?.setPeers(firewallPeers(config, cp.registry, s.security.peerCerts));
    views.updatePeerGauge();
  });
  publishSoon();
  if (!allocated) {
    cp.membership.start();
    s.cleanup.push(() => cp.membership.stop());
  }
  startHousekeeping(s, cp, views);
  s.security.start(securityAppliers(s, cp, server, supervisor));

  const reload = (): void => {
    s.security.reload('SIGHUP');
    reloadRules('SIGHUP');
  };
  return { id: self.id, status: () => views.status(), stop: () => stopNode(s), reload };
}

/** Reloaded TLS material goes to new connections everywhere; a changed deny list grooms whom it denies. */
function securityAppliers(s: Started, cp: ControlPlane, server: https.Server, supervisor: Supervisor): SecurityAppliers {
  return {
    tls: (bundle) => {
      server.setSecureContext(serverContextOptions(bundle, bundle.ca));
      cp.http.setTls({ ca: bundle.ca, cert: bundle.cert, key: bundle.key });
      supervisor.updateSettings(dataPlaneSettings(s.config, bundle, s.self.tokenClaims, s.tun.vnetHeader));
    },
    deny: () => {
      for (const node of cp.registry.all()) {
        if (s.security.refusesNode(node.info.id)) cp.registry.remove(node.info.id, 'denied');
      }
    },
  };
}

/** A worker's upgrade to check; a worker's peer refused our session: renegotiate (publication follows the new key). */
function onWorkerMessage(cp: ControlPlane, checks: ChannelChecks, msg: WorkerToMain): void {
  if (msg.type === 'upgrade_check') return checks.check(msg);
  if (msg.type !== 'session_rejected') return;
  const node = cp.registry.get(msg.peerId);
  cp.sessions.outboundRejected(msg.peerId, msg.sessionId);
  if (node) void cp.sessions.outboundKey(peerTarget(node)).catch(() => undefined);
}

/** Session rotation and the status traffic view, every few seconds. */
function startHousekeeping(s: Started, cp: ControlPlane, views: NodeViews): void {
  const timer = setInterval(
    () => {
      void cp.sessions.rotateDue(cp.registry.all().map(peerTarget)).catch((err) => s.log.warn('rotation failed', { component: 'auth', error: errorMessage(err) }));
      void views.refreshTraffic();
      // A peer's certificate (its groups) is recorded at its first authenticated request, which may follow its registration.
      s.firewall?.setPeers(firewallPeers(s.config, cp.registry, s.security.peerCerts));
    },
    Math.max(1, Math.min(s.timing.groomInterval, 5)) * 1000,
  );
  s.cleanup.push(() => clearInterval(timer));
}

async function stopNode(s: Started): Promise<void> {
  s.log.info('stopping node', { component: 'node', id: s.self.id });
  await undoAll(s);
  s.log.info('node stopped', { component: 'node', id: s.self.id });
}

async function undoAll(s: Started): Promise<void> {
  for (const undo of s.cleanup.splice(0).reverse()) {
    await Promise.resolve()
      .then(undo)
      .catch((err: unknown) => s.log.warn('shutdown step failed', { component: 'node', error: errorMessage(err) }));
  }
}
