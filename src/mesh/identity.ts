// This node as the mesh sees it. The id is a random UUID per process start, as in the
// original: a restart is a new node, and peers replace the old entry by listen URL.
import { randomUUID } from 'node:crypto';
import type { NodeInfo } from './types.js';
import { CAPABILITY_CLAIM, capabilityClaims, localCapabilities, OFFLOAD_VERSION, type Capabilities } from './capabilities.js';

export interface LocalIdentity {
  id: string;
  /** Exactly the original's NodeInfo: nothing of ours goes into it. */
  info: NodeInfo;
  /** What we offer tunmesh peers, and the token claims that announce it. */
  capabilities: Capabilities;
  tokenClaims: Readonly<Record<string, unknown>>;
}

export function createIdentity(opts: {
  listenUrl: string;
  networkCidr: string;
  nodeAddressCidr: string;
  fastPath: boolean;
  /** Our IPv6 address with prefix: announced to tunmesh peers in the signed claim only. */
  ipv6AddressCidr?: string | null;
  /** Our TUN MTU, announced so tunmesh peers answer packets too big for us (ICMPv6 Packet Too Big). */
  mtu?: number;
  /** Our address is allocated and not yet claimed (node/claim.ts). */
  claiming?: boolean;
}): LocalIdentity {
  const id = randomUUID();
  const capabilities = localCapabilities(opts.fastPath, false, opts.ipv6AddressCidr, opts.mtu);
  if (opts.claiming) capabilities.claiming = true;
  return {
    id,
    capabilities,
    tokenClaims: capabilityClaims(capabilities),
    info: {
      id,
      listen_url: opts.listenUrl,
      network_addresses: { ipv4: { cidr: opts.networkCidr } },
      node_addresses: { ipv4: { cidr: opts.nodeAddressCidr } },
    },
  };
}

/**
 * The same identity announcing what is known only once the data plane is set up: TUN offloads
 * (the device opened with them) and the channel port (its listener is up).
 */
export function withDataPlane(identity: LocalIdentity, dp: { offload: boolean; channelPort?: number | undefined }): LocalIdentity {
  const capabilities: Capabilities = { ...identity.capabilities };
  delete capabilities.offload;
  delete capabilities.channelPort;
  if (capabilities.fastPath > 0) {
    if (dp.offload) capabilities.offload = OFFLOAD_VERSION;
    if (dp.channelPort !== undefined) capabilities.channelPort = dp.channelPort;
  }
  return { ...identity, capabilities, tokenClaims: capabilityClaims(capabilities) };
}

/**
 * The claim window closed (node/claim.ts): we stop announcing `claiming`. The one capability
 * that changes in a node's life; every signer of the main process shares this identity's claim
 * object, so it changes in place (the workers, forked after the window, never carry it).
 */
export function endClaiming(identity: LocalIdentity): void {
  delete identity.capabilities.claiming;
  const claim = identity.tokenClaims[CAPABILITY_CLAIM];
  if (typeof claim === 'object' && claim !== null) delete (claim as Record<string, unknown>).claiming;
}
