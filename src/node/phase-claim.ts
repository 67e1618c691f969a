// Phase 3 of a node with an allocated address (tunmesh/networking/ipv4/allocate), still as
// root: join the mesh and hold the claim window (node/claim.ts), so that a node that must move
// can start again at its next choice (the TUN can be opened anew). After the window every
// registry change checks the claim; a conflict goes to `addressLost`.
// stop() stops membership (started here for such a node).
import type { TunmeshConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { AddressInUse } from '../mesh/address-claim.js';
import { nowSeconds as now } from '../auth/clock.js';
import { holdClaimWindow, watchClaim } from './claim.js';
import type { Boot } from './phase-boot.js';
import type { ControlPhase } from './phase-control.js';
import { startPhase, type Stoppable } from './stop-stack.js';

export interface ClaimPhaseOptions {
  config: TunmeshConfig;
  log: Logger;
  boot: Boot;
  control: ControlPhase;
  /** After the window, our address turned out held by a node that keeps it. */
  addressLost?: (err: AddressInUse) => void;
  /** Aborted (SIGTERM during start-up): the open window ends the start. */
  signal?: AbortSignal;
}

export function claimAddress(o: ClaimPhaseOptions): Promise<Stoppable> {
  const { cp } = o.control;
  return startPhase(o.log, async (steps) => {
    cp.membership.start();
    steps.push(() => cp.membership.stop());
    await holdClaimWindow({ cp, self: o.boot.self, timing: o.boot.timing, now, log: o.log, signal: o.signal });
    o.control.changes.listen(watchClaim(cp, o.boot.self, (err) => o.addressLost?.(err)));
    return {};
  });
}
