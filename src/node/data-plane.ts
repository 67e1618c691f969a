// What the main process tells the data plane: the settings workers start with, the state they
// route by (rebuilt whole on every change, coalesced to one publication per tick), and where
// the worker entry point lives.
import { fileURLToPath } from 'node:url';
import type { TunmeshConfig } from '../config/types.js';
import type { DataPlaneSettings, DataPlaneState } from '../dataplane/contract.js';
import type { RemoteNode } from '../mesh/registry.js';
import type { ControlPlane } from './control-plane.js';
import { fastPathWith, offloadWith, OFFLOAD_VERSION } from '../mesh/capabilities.js';
import type { LocalIdentity } from '../mesh/identity.js';

/** The fast path when both ends offer it (the peer in its signed claim), else the original's JSON path. */
export function pathOf(config: TunmeshConfig, node: RemoteNode): 'fast' | 'legacy' {
  return fastPathWith(node.capabilities, config.dataPlane.fastPath) ? 'fast' : 'legacy';
}

/** Fast-path framing toward a peer: v2 (super-packets) when both ends announced offloads. */
export function framesOf(config: TunmeshConfig, node: RemoteNode, ourOffload: boolean): 1 | 2 {
  return pathOf(config, node) === 'fast' && offloadWith(node.capabilities, ourOffload) ? 2 : 1;
}

/** pathOf and framesOf for this node, as the status views take them. */
export function peerPaths(config: TunmeshConfig, self: LocalIdentity): { pathOf: (node: RemoteNode) => 'fast' | 'legacy'; framesOf: (node: RemoteNode) => 1 | 2 } {
  const ourOffload = self.capabilities.offload === OFFLOAD_VERSION;
  return { pathOf: (node) => pathOf(config, node), framesOf: (node) => framesOf(config, node, ourOffload) };
}

export function dataPlaneState(config: TunmeshConfig, selfId: string, cp: ControlPlane, ourOffload = false): DataPlaneState {
  const ipv4 = config.networking.ipv4;
  return {
    selfId,
    addressCidr: ipv4.nodeAddressCidr,
    networkCidr: ipv4.networkCidr,
    address6Cidr: config.networking.ipv6?.nodeAddressCidr ?? null,
    network6Cidr: config.networking.ipv6?.networkCidr ?? null,
    enableBroadcast: ipv4.enableBroadcast,
    mtu: config.networking.mtu,
    peers: cp.registry.all().map((n) => {
      const key = cp.sessions.outbound.get(n.info.id);
      const path = pathOf(config, n);
      return {
        id: n.info.id,
        url: n.info.listen_url,
        addressCidr: n.info.node_addresses.ipv4.cidr,
        networkCidr: n.info.network_addresses.ipv4.cidr,
        path,
        frames: framesOf(config, n, ourOffload),
        ...(path === 'fast' && n.capabilities?.channelPort ? { channelPort: n.capabilities.channelPort } : {}),
        scope: n.scope,
        kind: n.capabilities === null ? 'original' : 'tunmesh',
        address6Cidr: n.capabilities?.ipv6 ?? null,
        ...(n.capabilities?.mtu ? { mtu: n.capabilities.mtu } : {}),
        session: key ? { id: key.id, secretB64: key.key.export().toString('base64') } : null,
      };
    }),
  };
}

export function dataPlaneSettings(
  config: TunmeshConfig,
  tls: { ca: Buffer; cert: Buffer; key: Buffer },
  tokenClaims: Readonly<Record<string, unknown>>,
  vnetHeader = false,
): DataPlaneSettings {
  const t = config.process.timing;
  return {
    tokenClaims,
    caPem: tls.ca.toString('utf8'),
    certPem: tls.cert.toString('utf8'),
    keyPem: tls.key.toString('utf8'),
    verifyHostname: config.controlApi.ssl.verifyHostname,
    requestTimeoutMs: t.requestTimeout * 1000,
    channelIdleMs: config.dataPlane.channelIdleTimeout * 1000,
    maxBatchSize: config.controlApi.maxBatchSize,
    queueLimit: config.dataPlane.queueLimit,
    packetExpirationLocal: t.network.local.packetExpiration,
    packetExpirationMesh: t.network.mesh.packetExpiration,
    earlyValidityWindow: t.auth.earlyValidityWindow,
    validityWindow: t.auth.validityWindow,
    logLevel: config.logging.level,
    logFormat: config.logging.format,
    vnetHeader,
    clientAuth: config.security.clientAuth,
  };
}

/** Workers run the compiled entry; under tsx (tests) the TypeScript one. */
export function workerEntry(): { entry: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return { entry: fileURLToPath(new URL('../workers/worker.ts', import.meta.url)), execArgv: ['--import', 'tsx'] };
  return { entry: fileURLToPath(new URL('../workers/worker.js', import.meta.url)), execArgv: [] };
}

/** Many changes in one tick (a registration opens a session, say) make one publication. */
export function coalesced(publish: () => void): () => void {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    setImmediate(() => {
      queued = false;
      publish();
    });
  };
}
