// Settling an allocated address (config/allocate.ts) that another node holds too. Every node
// applies the same rule to what its registry shows, so the two ends agree without a message of
// their own: an original node keeps its address (it cannot move), and between tunmesh nodes
// the lower id keeps it. The other one moves: it starts again under a new id at the next free
// choice, which its peers see as an ordinary restart (the original refuses a known id whose
// address changes, so the address cannot change under the same id).
import { addressOf, type RemoteNode } from './registry.js';

/** Our allocated address is held by `keeper`, who keeps it: we must move. */
export class AddressInUse extends Error {
  constructor(
    readonly address: string,
    readonly keeper: string,
    /** Every address the registry showed taken when we found out (the next choice skips them). */
    readonly taken: ReadonlySet<string>,
  ) {
    super(`our address ${address} is also held by node ${keeper}, which keeps it`);
    this.name = 'AddressInUse';
  }
}

/** The peer that keeps `address` over us, if one holds it: an original, or a tunmesh node of lower id. */
export function addressKeeper(selfId: string, address: string, peers: readonly RemoteNode[]): RemoteNode | undefined {
  return peers.find((p) => addressOf(p.info) === address && (p.capabilities === null || p.info.id < selfId));
}

/** The conflict to act on now, if any: our address held by a peer that keeps it. */
export function addressConflict(selfId: string, address: string, peers: readonly RemoteNode[]): AddressInUse | undefined {
  const keeper = addressKeeper(selfId, address, peers);
  return keeper === undefined ? undefined : new AddressInUse(address, keeper.info.id, new Set(peers.map((p) => addressOf(p.info))));
}
