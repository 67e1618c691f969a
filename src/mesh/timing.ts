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
  /** Exchanges per second with tunmesh peers at most (0: none, the configured intervals at any size). */
  keepaliveRate: number;
}
