// Phase 1 of a node, as root: what needs privileges or must exist before anything talks.
//   1. identity, metrics, TLS material and deny list (node/security.ts), the RSA key pair
//   2. the TUN device with one queue per worker plus a detached write-only queue the main process
//      writes received packets to (with offloads when the kernel takes them: the identity then
//      announces them)
//   3. the firewall rules (firewall/; their keeper stays root), in force before any packet crosses
//   4. the channel port, where workers receive fast channels (announced too, once it listens);
//      it hands connections to the worker slot, filled when the workers fork
// stop() closes the channel port, the firewall and the TUN device, in that order.
import type { TunmeshConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { openTunDevice, type TunDevice } from '../tun/index.js';
import { offloadNames } from '../tun/vnet.js';
import { detachQueue } from '../dataplane/detached-queue.js';
import { generateNodeKeyPair } from '../auth/rsa.js';
import { createIdentity, withDataPlane, type LocalIdentity } from '../mesh/identity.js';
import type { MeshTiming } from '../mesh/timing.js';
import type { NodeKeyPair } from '../mesh/session-manager.js';
import { NodeMetrics } from '../metrics/node.js';
import { certificateExpiry, type CertificateExpiry } from '../security/cert-expiry.js';
import { Firewall } from '../firewall/firewall.js';
import { VERSION } from '../version.js';
import { openChannelPort } from './channel-port.js';
import { NodeSecurity } from './security.js';
import { meshTiming } from './settings.js';
import { WorkerSlot } from './worker-slot.js';
import { startPhase, type StopStack, type Stoppable } from './stop-stack.js';

export interface BootOptions {
  config: TunmeshConfig;
  log: Logger;
  /** Unix seconds the node started (metrics, health's start-up grace). */
  startedAt: number;
}

export interface Boot extends Stoppable {
  /** Our identity as announced: with the data plane's offloads and channel port. */
  self: LocalIdentity;
  metrics: NodeMetrics;
  security: NodeSecurity;
  keyPair: NodeKeyPair;
  timing: MeshTiming;
  tun: TunDevice;
  /** The detached, write-only TUN queue the main process writes received packets to. */
  rxQueueFd: number;
  /** tunmesh.firewall in force (its keeper stays root); null: no firewall, all allowed. */
  firewall: Firewall | null;
  /** Where the channel port hands its connections: the workers, once forked. */
  workers: WorkerSlot;
}

export function bootAsRoot(o: BootOptions): Promise<Boot> {
  const { config, log, startedAt } = o;
  return startPhase(log, async (steps) => {
    const identity = createIdentity({
      listenUrl: config.clustering.controlApiAdvertiseUrl,
      networkCidr: config.networking.ipv4.networkCidr,
      nodeAddressCidr: config.networking.ipv4.nodeAddressCidr,
      fastPath: config.dataPlane.fastPath,
      ipv6AddressCidr: config.networking.ipv6?.nodeAddressCidr ?? null,
      mtu: config.networking.mtu,
      claiming: config.networking.ipv4.allocationSeed !== null,
    });
    logStart(config, log, identity);
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
    const keyPair = await generateNodeKeyPair(config.clustering.auth.pubKeySize);
    const tun = await openTun(config, log, steps);
    const firewall = await startFirewall(config, log, metrics, steps);
    const rxQueueFd = tun.queueFds[config.process.workers] as number;
    detachQueue(rxQueueFd);
    const workers = new WorkerSlot();
    const channels = config.dataPlane.fastPath && config.dataPlane.channelPort !== 0
      ? await openChannelPort({ port: config.dataPlane.channelPort, address: config.controlApi.listenAddress || undefined, handOff: (socket) => workers.handOff(socket), log })
      : null;
    if (channels !== null) steps.push(() => channels.close());
    const self = withDataPlane(identity, { offload: tun.vnetHeader, channelPort: channels?.port });
    return { self, metrics, security, keyPair, timing: meshTiming(config), tun, rxQueueFd, firewall, workers };
  });
}

function logStart(config: TunmeshConfig, log: Logger, identity: LocalIdentity): void {
  log.info('starting node', {
    component: 'node',
    id: identity.id,
    url: identity.info.listen_url,
    address: config.networking.ipv4.nodeAddressCidr,
    ...(config.networking.ipv6 ? { address6: config.networking.ipv6.nodeAddressCidr } : {}),
    version: VERSION,
    workers: config.process.workers,
    workersReason: config.process.workersReason,
  });
}

/** N worker queues + 1 detached queue the main process writes received packets to. */
async function openTun(config: TunmeshConfig, log: Logger, steps: StopStack): Promise<TunDevice> {
  const ipv4 = config.networking.ipv4;
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
  steps.push(() => tun.close());
  logOffloads(log, config, tun);
  return tun;
}

function logOffloads(log: Logger, config: TunmeshConfig, tun: TunDevice): void {
  const component = 'tun';
  if (tun.vnetHeader) log.info('TUN offloads enabled', { component, offloads: offloadNames(tun.offloads).join(',') });
  else if (tun.offloadFallback !== undefined) log.warn('TUN offloads unavailable; running without', { component, reason: tun.offloadFallback });
  else log.info('TUN offloads off', { component, reason: config.dataPlane.fastPath ? 'data_plane.offload is off' : 'the fast path is off' });
}

/** Before any packet can cross: the rules are in force once the TUN exists (root, like the TUN). */
async function startFirewall(config: TunmeshConfig, log: Logger, metrics: NodeMetrics, steps: StopStack): Promise<Firewall | null> {
  if (config.firewall === null) return null;
  const firewall = await Firewall.start(config.firewall, { device: config.networking.tunDeviceId, configPath: config.source, log, metrics: metrics.firewall });
  steps.push(() => firewall.stop());
  return firewall;
}
