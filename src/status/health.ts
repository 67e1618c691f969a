// Health in three flavours:
//   /health        the original's meaning and JSON: every component true, else 503
//   /health/live   this process works (never depends on peers: a partition must not restart pods)
//   /health/ready  bootstrapped and registered with a peer, or configured as the first node
// The original's components map onto tunmesh's parts: its registrations worker and heartbeat
// thread onto the membership loop (registering, re-registering, grooming), its TUN monitor and
// read-pipe thread onto the data-plane workers that read the TUN, its `tun` onto the device.

/** What /health, /health/live and /health/ready answer (api/routes/open.ts serves it). */
export interface HealthReport {
  /** The original's /health meaning: every component true. */
  healthy: boolean;
  /** Liveness: this process works (never depends on peers). */
  live: boolean;
  /** Readiness: bootstrapped and registered with at least one peer (or first node). */
  ready: boolean;
  components: Record<string, Record<string, boolean>>;
}

export interface HealthInputs {
  now: number;
  startedAt: number;
  startupGrace: number;
  firstNode: boolean;
  knownPeers: number;
  bootstrapped: boolean;
  /** The membership loop ticks (Membership.loopAlive). */
  groomLoopAlive: boolean;
  workersAlive: number;
  /** The TUN device is up, running and carries our address (TunDevice.isUp). */
  tunUp: boolean;
}

export function healthReport(h: HealthInputs): HealthReport {
  const inGrace = h.now - h.startedAt < h.startupGrace;
  const registered = h.knownPeers > 0 || inGrace;
  const components = {
    monitoring: { tun_monitor_worker: h.workersAlive > 0 },
    registrations: { registered, worker: h.groomLoopAlive },
    router: { read_pipe_thread: h.workersAlive > 0, heartbeat_thread: h.groomLoopAlive, tun: h.tunUp },
  };
  const healthy = Object.values(components).every((c) => Object.values(c).every(Boolean));
  const live = h.groomLoopAlive && h.tunUp && h.workersAlive > 0;
  const ready = live && (h.firstNode || (h.bootstrapped && h.knownPeers > 0));
  return { healthy, live, ready, components };
}
