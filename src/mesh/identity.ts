// This node as the mesh sees it. The id is a random UUID per process start, as in the
// original: a restart is a new node, and peers replace the old entry by listen URL.
import { randomUUID } from 'node:crypto';
import type { NodeInfo } from './types.js';
import { capabilityClaims, localCapabilities, type Capabilities } from './capabilities.js';

export interface LocalIdentity {
  id: string;
  /** Exactly the original's NodeInfo: nothing of ours goes into it. */
  info: NodeInfo;
  /** What we offer tunmesh peers, and the token claims that announce it. */
  capabilities: Capabilities;
  tokenClaims: Readonly<Record<string, unknown>>;
}

export function createIdentity(opts: { listenUrl: string; networkCidr: string; nodeAddressCidr: string; fastPath: boolean }): LocalIdentity {
  const id = randomUUID();
  const capabilities = localCapabilities(opts.fastPath);
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

/** The same identity announcing TUN offloads (known only once the TUN device is open). */
export function withOffload(identity: LocalIdentity, offload: boolean): LocalIdentity {
  const capabilities = localCapabilities(identity.capabilities.fastPath > 0, offload);
  return { ...identity, capabilities, tokenClaims: capabilityClaims(capabilities) };
}
