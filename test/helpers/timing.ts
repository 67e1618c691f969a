// Mesh timings for unit tests that build the control plane's parts by hand: the config's
// defaults (5 s re-registration, 30 s stale threshold), without the start-up grace, and
// keepalive_rate 0 (the configured interval whatever the mesh size).
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
