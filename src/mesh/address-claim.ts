// Settling an allocated address (config/allocate.ts) that another node holds too. Every node
// applies the same rule to what its registry shows, so the two ends agree without a message of
// their own: an original node keeps its address (it cannot move); a tunmesh node that holds it
// already keeps it over one still claiming it (capability `claiming`), so a restarted node does
// not displace a running one; between two of the same standing the lower id keeps it. The other
// one moves: it starts again under a new id at the next free
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

/** Who we are in a conflict: our id, the address, and whether we are still claiming it. */
export interface Claimant {
  id: string;
  address: string;
  claiming: boolean;
}

/** The peer that keeps our address over us, if one holds it. */
function addressKeeper(self: Claimant, peers: readonly RemoteNode[]): RemoteNode | undefined {
  return peers.find((p) => addressOf(p.info) === self.address && keepsOver(p, self));
}

function keepsOver(p: RemoteNode, self: Claimant): boolean {
  if (p.capabilities === null) return true;
  const claiming = p.capabilities.claiming === true;
  if (claiming !== self.claiming) return self.claiming;
  return p.info.id < self.id;
}

/** The conflict to act on now, if any: our address held by a peer that keeps it. */
export function addressConflict(self: Claimant, peers: readonly RemoteNode[]): AddressInUse | undefined {
  const keeper = addressKeeper(self, peers);
  return keeper === undefined ? undefined : new AddressInUse(self.address, keeper.info.id, new Set(peers.map((p) => addressOf(p.info))));
}
