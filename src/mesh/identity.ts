// This node as the mesh sees it. The id is a random UUID per process start, as in the
// original: a restart is a new node, and peers replace the old entry by listen URL.
import { randomUUID } from 'node:crypto';
import type { NodeInfo } from './types.js';

export const FAST_PATH_VERSION = 1;

export interface LocalIdentity {
  id: string;
  info: NodeInfo;
}

export function createIdentity(opts: { listenUrl: string; networkCidr: string; nodeAddressCidr: string; fastPath: boolean; wrap: string[] }): LocalIdentity {
  const id = randomUUID();
  return {
    id,
    info: {
      id,
      listen_url: opts.listenUrl,
      network_addresses: { ipv4: { cidr: opts.networkCidr } },
      node_addresses: { ipv4: { cidr: opts.nodeAddressCidr } },
      tunmesh: { fast_path: opts.fastPath ? FAST_PATH_VERSION : 0, wrap: opts.wrap },
    },
  };
}
