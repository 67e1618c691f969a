// One tunmesh node: the main process. Start-up order matters (root work first):
//   1. identity, TLS material, RSA key pair, metrics
//   2. TUN device with one queue per worker plus a detached write-only queue for received packets
//   3. control plane: registry, sessions, peer API, membership, authenticator
//   4. HTTPS API (+ the fast-path upgrade) bound on the listen port, status socket
//   5. drop to the configured uid/gid, fork the data-plane workers, start grooming
// stop() undoes it in reverse, each step bounded.
import { readFileSync } from 'node:fs';
import type https from 'node:https';
import type http from 'node:http';
import { fileURLToPath } from 'node:url';
import type { TunmeshConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { loadTlsMaterial, createHttpsServer, listen } from '../api/server.js';
import { createApp } from '../api/app.js';
import { openTunDevice, type TunDevice } from '../tun/index.js';
import { detachQueue } from '../dataplane/detached-queue.js';
import { clusterKey } from '../auth/keys.js';
import { generateNodeKeyPair } from '../auth/rsa.js';
import { createIdentity, type LocalIdentity } from '../mesh/identity.js';
import { Registry, type RemoteNode } from '../mesh/registry.js';
import { SessionManager } from '../mesh/session-manager.js';
import { HttpClient } from '../mesh/http-client.js';
import { HttpPeerApi } from '../mesh/peer-api.js';
import { Membership, describe } from '../mesh/membership.js';
import { MeshAuthenticator } from '../mesh/authenticator.js';
import { cidrContains } from '../tun/ipv4.js';
import { NodeMetrics } from '../metrics/node.js';
import { createReceivePath, type ReceivePath } from '../dataplane/receive.js';
import { startWorkers, type Supervisor } from '../workers/supervisor.js';
import type { DataPlaneSettings, DataPlaneState, WorkerToMain } from '../dataplane/contract.js';
import { controlHandlers } from './control.js';
import { healthReport } from './health.js';
import { statusReport, type PeerTraffic, type StatusReport } from './status.js';
import { serveStatusSocket } from './status-socket.js';
import { dropPrivileges } from './privileges.js';
import { meshTiming, bootstrapGroups } from './settings.js';
import { VERSION } from '../version.js';

export interface RunningNode {
  id: string;
  stop(): Promise<void>;
  status(): StatusReport;
}

const now = (): number => Date.now() / 1000;

export async function startNode(config: TunmeshConfig, log: Logger): Promise<RunningNode> {
  const startedAt = now();
  const timing = meshTiming(config);
  const ipv4 = config.networking.ipv4;
  // 1. identity, TLS, keys, metrics
  const self = createIdentity({
    listenUrl: config.clustering.controlApiAdvertiseUrl,
    networkCidr: ipv4.networkCidr,
    nodeAddressCidr: ipv4.nodeAddressCidr,
    fastPath: config.dataPlane.fastPath,
    wrap: ['oaep-sha256'],
  });
  log.info('starting node', { component: 'node', id: self.id, url: self.info.listen_url, address: ipv4.nodeAddressCidr, version: VERSION });
  const tls = loadTlsMaterial(config.controlApi.ssl.certFilePath, config.controlApi.ssl.keyFilePath);
  const caPem = config.controlApi.ssl.caFilePath ? readFileSync(config.controlApi.ssl.caFilePath) : tls.cert;
  const keyPair = await generateNodeKeyPair(config.clustering.auth.pubKeySize);
  const metrics = new NodeMetrics({
    nodeId: self.id,
    version: VERSION,
    baseLabels: { ...config.monitoring.prometheus.baseLabels },
    perPeerLegacy: config.monitoring.enableNodePacketMetrics,
    startStamp: Math.floor(startedAt),
    certNotAfter: tls.notAfter,
  });

  // 2. TUN: N worker queues + 1 detached queue the main process writes received packets to
  const workerCount = config.process.workers;
  const tun = await openTunDevice({
    name: config.networking.tunDeviceId,
    queues: workerCount + 1,
    mtu: config.networking.mtu,
    addressCidr: ipv4.nodeAddressCidr,
    routeCidr: ipv4.networkCidr,
  });
  const rxFd = tun.queueFds[workerCount] as number;
  detachQueue(rxFd);
  const cleanup: Array<() => Promise<void> | void> = [() => tun.close()];
  try {
    return await startServices(config, log, { self, tls, caPem, keyPair, metrics, tun, rxFd, workerCount, timing, startedAt, cleanup });
  } catch (err) {
    for (const undo of cleanup.reverse()) await Promise.resolve(undo()).catch(() => undefined);
    throw err;
  }
}

interface Parts {
  self: LocalIdentity;
  tls: ReturnType<typeof loadTlsMaterial>;
  caPem: Buffer;
  keyPair: Awaited<ReturnType<typeof generateNodeKeyPair>>;
  metrics: NodeMetrics;
  tun: TunDevice;
  rxFd: number;
  workerCount: number;
  timing: ReturnType<typeof meshTiming>;
  startedAt: number;
  cleanup: Array<() => Promise<void> | void>;
}

async function startServices(config: TunmeshConfig, log: Logger, p: Parts): Promise<RunningNode> {
  const { self, metrics, timing } = p;
  const ipv4 = config.networking.ipv4;
  let publishSoon: () => void = () => undefined;

  // 3. control plane
  const ownNetwork = ipv4.nodeAddressCidr;
  const registry = new Registry(
    (info) => (cidrContains(ownNetwork, info.node_addresses.ipv4.cidr.split('/')[0] as string) ? 'local' : 'mesh'),
    { base: timing.groomInterval, max: Math.max(timing.groomInterval * 8, 60) },
    {
      added: () => metrics.registrationEvents.labels('joined').inc(),
      removed: (node, why) => {
        metrics.registrationEvents.labels('removed').inc();
        sessions.forget(node.info.id);
        metrics.dataPlane.forgetPeer(node.info.id);
        log.info('node removed', { component: 'mesh', peer: node.info.id, why });
      },
      changed: () => publishSoon(),
    },
  );
  const sessions = new SessionManager(
    self.id,
    clusterKey(config.clustering.auth.secret),
    p.keyPair,
    timing,
    config.clustering.auth.legacyPkcs1Interop,
    {
      rotated: (_peer, kind) => metrics.sessionEvents.labels(kind).inc(),
      failed: () => metrics.sessionEvents.labels('failed').inc(),
      changed: () => publishSoon(),
    },
    log,
    now,
  );
  const http = new HttpClient({ ca: p.caPem, verifyHostname: config.controlApi.ssl.verifyHostname, timeoutMs: timing.requestTimeout * 1000 });
  p.cleanup.push(() => http.close());
  const peerApi = new HttpPeerApi(http, sessions, timing);
  sessions.attach(peerApi);
  const target = (n: RemoteNode) => ({ id: n.info.id, url: n.info.listen_url });
  const membership = new Membership(
    self,
    registry,
    peerApi,
    timing,
    bootstrapGroups(config),
    {
      onRegistered: (node) => void sessions.outboundKey(target(node)).catch(() => undefined),
      event: (kind) => metrics.registrationEvents.labels(kind).inc(),
      roundTrip: (seconds) => metrics.registrationRtt.observe(seconds),
    },
    log,
    now,
  );
  const authenticator = new MeshAuthenticator(sessions, registry, timing);

  // 4. receive path, API, status socket
  const rx: ReceivePath = createReceivePath({
    tunFd: p.rxFd,
    metrics: metrics.dataPlane,
    authenticate: (header, body, mode, peerId) => authenticator.authenticate(header, body, mode, peerId),
    log,
    packetExpiration: config.process.timing.network.mesh.packetExpiration,
  });
  p.cleanup.push(() => rx.close());
  // Workers start last (after the privilege drop) but health and metrics read them from the start.
  const workers: { supervisor?: Supervisor } = {};
  const workerSnapshots = (): unknown[] => workers.supervisor?.collectMetrics() ?? [];
  const health = () =>
    healthReport({
      now: now(),
      startedAt: p.startedAt,
      startupGrace: config.process.timing.registrations.startupGrace,
      firstNode: config.health.firstNode,
      knownPeers: registry.size,
      bootstrapped: membership.bootstrapped,
      groomLoopAlive: true,
      workersAlive: workers.supervisor?.alive() ?? 0,
      tunOpen: true,
    });
  let traffic: PeerTraffic = new Map();
  const pathOf = (n: RemoteNode): 'fast' | 'legacy' => (config.dataPlane.fastPath && n.info.tunmesh?.fast_path === 1 ? 'fast' : 'legacy');
  const status = (): StatusReport =>
    statusReport({
      self,
      version: VERSION,
      startedAt: p.startedAt,
      now: now(),
      bootstrapped: membership.bootstrapped,
      ready: health().ready,
      workers: workers.supervisor?.alive() ?? 0,
      registry,
      sessions,
      pathOf,
      traffic,
    });
  const app = createApp(
    {
      auth: authenticator,
      health,
      metrics:
        config.monitoring.method === 'prometheus'
          ? { contentType: metrics.contentType, render: () => metrics.render(workerSnapshots()) }
          : null,
      control: controlHandlers({ self, registry, membership, sessions, status, onSessionIssued: () => metrics.sessionEvents.labels('issued').inc() }),
      packets: { receiveLegacy: (sender, packets) => rx.receiveLegacy(sender, packets) },
    },
    log,
    (reason) => {
      metrics.authFailures.labels(reason).inc();
      log.warn('request refused', { component: 'auth', reason });
    },
  );
  const server: https.Server = createHttpsServer(p.tls, app);
  server.on('upgrade', (req, socket, head) => rx.handleUpgrade(req, socket, head));
  await listen(server, config.controlApi.listenPort);
  p.cleanup.push(() => closeServer(server));
  log.info('API listening', { component: 'api', port: config.controlApi.listenPort, tls: '>=1.2' });
  let statusServer: http.Server | undefined;
  if (config.statusSocket) {
    statusServer = await serveStatusSocket(config.statusSocket, config.process.uid, config.process.gid, status);
    p.cleanup.push(() => new Promise<void>((r) => statusServer?.close(() => r())));
  }

  // 5. drop privileges, fork workers, publish state, groom
  if (dropPrivileges(config.process.uid, config.process.gid) === 'dropped') {
    log.info('dropped privileges', { component: 'node', uid: config.process.uid, gid: config.process.gid });
  }
  const state = (): DataPlaneState => ({
    selfId: self.id,
    addressCidr: ipv4.nodeAddressCidr,
    networkCidr: ipv4.networkCidr,
    enableBroadcast: ipv4.enableBroadcast,
    mtu: config.networking.mtu,
    peers: registry.all().map((n) => {
      const key = sessions.outbound.get(n.info.id);
      return {
        id: n.info.id,
        url: n.info.listen_url,
        addressCidr: n.info.node_addresses.ipv4.cidr,
        networkCidr: n.info.network_addresses.ipv4.cidr,
        path: pathOf(n),
        session: key ? { id: key.id, secretB64: key.key.export().toString('base64') } : null,
      };
    }),
  });
  const sup = startWorkers({
    count: p.workerCount,
    queueFds: p.tun.queueFds.slice(0, p.workerCount),
    settings: dataPlaneSettings(config, p.caPem),
    ...workerEntry(),
    log,
    onMessage: (msg: WorkerToMain) => {
      if (msg.type === 'session_rejected') {
        const node = registry.get(msg.peerId);
        sessions.outboundRejected(msg.peerId);
        if (node) void sessions.outboundKey(target(node)).catch(() => undefined);
      }
    },
  });
  workers.supervisor = sup;
  p.cleanup.push(() => sup.stop(5000));
  let publishQueued = false;
  publishSoon = () => {
    if (publishQueued) return;
    publishQueued = true;
    setImmediate(() => {
      publishQueued = false;
      const s = state();
      sup.publish(s);
      rx.setState(s);
      // Every state always has a series (0 included), so "no peers" is visible, not absent.
      const counts: Record<string, number> = { up: 0, connecting: 0, failing: 0 };
      for (const peer of status().peers) counts[peer.state] = (counts[peer.state] ?? 0) + 1;
      for (const [stateName, n] of Object.entries(counts)) metrics.peers.labels(stateName).set(n);
    });
  };
  publishSoon();
  membership.start();
  p.cleanup.push(() => membership.stop());
  const rotation = setInterval(() => {
    void sessions.rotateDue(registry.all().map(target)).catch((err) => log.warn('rotation failed', { component: 'auth', error: describe(err) }));
    void metrics.peerTraffic(workerSnapshots()).then((t) => (traffic = t));
  }, Math.max(1, Math.min(timing.groomInterval, 5)) * 1000);
  p.cleanup.push(() => clearInterval(rotation));

  return {
    id: self.id,
    status,
    stop: async () => {
      log.info('stopping node', { component: 'node', id: self.id });
      for (const undo of p.cleanup.reverse()) {
        await Promise.resolve(undo()).catch((err) => log.warn('shutdown step failed', { component: 'node', error: describe(err) }));
      }
      log.info('node stopped', { component: 'node', id: self.id });
    },
  };
}

function dataPlaneSettings(config: TunmeshConfig, caPem: Buffer): DataPlaneSettings {
  const t = config.process.timing;
  return {
    caPem: caPem.toString('utf8'),
    verifyHostname: config.controlApi.ssl.verifyHostname,
    requestTimeoutMs: t.requestTimeout * 1000,
    maxBatchSize: config.controlApi.maxBatchSize,
    queueLimit: config.dataPlane.queueLimit,
    packetExpirationLocal: t.network.local.packetExpiration,
    packetExpirationMesh: t.network.mesh.packetExpiration,
    earlyValidityWindow: t.auth.earlyValidityWindow,
    validityWindow: t.auth.validityWindow,
    logLevel: config.logging.level,
    logFormat: config.logging.format,
  };
}

/** Workers run the compiled entry; under tsx (tests) the TypeScript one. */
function workerEntry(): { entry: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return { entry: fileURLToPath(new URL('../workers/worker.ts', import.meta.url)), execArgv: ['--import', 'tsx'] };
  return { entry: fileURLToPath(new URL('../workers/worker.js', import.meta.url)), execArgv: [] };
}

function closeServer(server: https.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
    setTimeout(resolve, 3000).unref();
  });
}
