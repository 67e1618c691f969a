// The claim window of an allocated address (tunmesh/networking/ipv4/allocate): the node joins
// the mesh and watches its registry before it drops privileges and forks its workers, telling
// its peers it is still claiming (capability `claiming`: a node that holds the address already
// keeps it over us, mesh/address-claim.ts). A keeper
// of our address found in the window ends the start with AddressInUse, and the run command
// starts again at the next choice (still root: the TUN can be opened anew). After the window a
// conflict (two parts of a partition that picked alike) is reported to `lost`, and the node,
// unprivileged by then, exits for its orchestrator to restart it.
import { addressConflict, type AddressInUse } from '../mesh/address-claim.js';
import { addressOf } from '../mesh/registry.js';
import { endClaiming, type LocalIdentity } from '../mesh/identity.js';
import type { MeshTiming } from '../mesh/timing.js';
import type { Logger } from '../log/logger.js';
import type { ControlPlane } from './control-plane.js';

const POLL_MS = 100;

/** SIGTERM arrived while the window was open: the start is given up (nothing to clean but what it opened). */
export class StartAborted extends Error {
  constructor() {
    super('stopped during start-up');
    this.name = 'StartAborted';
  }
}

/**
 * How long the window stays open: after bootstrap, two groom intervals (the time a node that
 * registered elsewhere at the same moment takes to be named to us; at least 2 s); a node that
 * finds nobody waits two bootstrap retries (at least 5 s, at most 30) and then holds its
 * address alone, as a first node must.
 */
function claimWindow(timing: MeshTiming): { afterBootstrap: number; alone: number } {
  return {
    afterBootstrap: Math.max(2, 2 * timing.groomInterval),
    alone: Math.min(30, Math.max(5, 2 * timing.bootstrapRetryInterval)),
  };
}

/** Resolves when the window closed with our address unclaimed; rejects with AddressInUse. */
export interface ClaimWindowOptions {
  cp: ControlPlane;
  self: LocalIdentity;
  timing: MeshTiming;
  now: () => number;
  log: Logger;
  /** Aborted: the window ends the start with StartAborted. */
  signal?: AbortSignal;
}

export async function holdClaimWindow(o: ClaimWindowOptions): Promise<void> {
  const { cp, self, timing, now, log, signal } = o;
  const address = addressOf(self.info);
  const window = claimWindow(timing);
  const opened = now();
  let bootstrappedAt: number | null = null;
  log.info('claiming the allocated address before the data plane starts', { component: 'mesh', address, windowSeconds: window.afterBootstrap });
  for (;;) {
    if (signal?.aborted) throw new StartAborted();
    const conflict = addressConflict({ id: self.id, address, claiming: true }, cp.registry.all());
    if (conflict) throw conflict;
    const t = now();
    if (bootstrappedAt === null && cp.membership.bootstrapped && cp.registry.size > 0) bootstrappedAt = t;
    if (bootstrappedAt !== null && t - bootstrappedAt >= window.afterBootstrap) break;
    if (bootstrappedAt === null && t - opened >= window.alone) {
      log.info('no other node answered in the claim window: holding the address alone', { component: 'mesh', address });
      break;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  endClaiming(self);
  log.info('allocated address claimed', { component: 'mesh', address, peers: cp.registry.size });
}

/** After the window: a check on every registry change (cheap: one pass over the peers). */
export function watchClaim(cp: ControlPlane, self: LocalIdentity, lost: (err: AddressInUse) => void): () => void {
  const address = addressOf(self.info);
  let reported = false;
  return () => {
    if (reported) return;
    const conflict = addressConflict({ id: self.id, address, claiming: false }, cp.registry.all());
    if (!conflict) return;
    reported = true;
    lost(conflict);
  };
}
