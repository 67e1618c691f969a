// Mesh timings for unit tests that build the control plane's parts by hand. Not the config's
// defaults (those are the simulation's, src/bench/simulate/simulate.ts): both scopes take the
// local one's 5 s re-registration and 30 s stale threshold, there is no start-up grace and no
// clock skew, and keepalive_rate is 0 (the configured interval whatever the mesh size), so a
// test can count intervals without the mesh size stretching them.
import type { MeshTiming } from '../../src/mesh/timing.js';

export const TEST_TIMING: MeshTiming = {
  requestTimeout: 1,
  groomInterval: 5,
  startupGrace: 0,
  bootstrapRetryInterval: 15,
  local: { reregistrationInterval: 5, staleThreshold: 30 },
  mesh: { reregistrationInterval: 5, staleThreshold: 30 },
  sessionMaxAge: 3600,
  earlyValidityWindow: 5,
  validityWindow: 30,
  sessionOverlap: 30,
  maxClockSkew: 0,
  keepaliveRate: 0,
};
