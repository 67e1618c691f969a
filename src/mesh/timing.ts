// Every timing of the control plane, in seconds, from config (names as in the original).
export interface MeshTiming {
  requestTimeout: number;
  groomInterval: number;
  startupGrace: number;
  bootstrapRetryInterval: number;
  local: { reregistrationInterval: number; staleThreshold: number };
  mesh: { reregistrationInterval: number; staleThreshold: number };
  sessionMaxAge: number;
  earlyValidityWindow: number;
  validityWindow: number;
  sessionOverlap: number;
  maxClockSkew: number;
}
