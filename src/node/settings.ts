// Config -> the plain settings each layer takes (layers never read the config tree themselves).
import type { TunmeshConfig } from '../config/types.js';
import type { MeshTiming } from '../mesh/timing.js';
import type { BootstrapGroup } from '../mesh/membership.js';

export function meshTiming(config: TunmeshConfig): MeshTiming {
  const t = config.process.timing;
  return {
    requestTimeout: t.requestTimeout,
    groomInterval: t.registrations.groomInterval,
    startupGrace: t.registrations.startupGrace,
    bootstrapRetryInterval: t.registrations.bootstrapRetryInterval,
    local: { ...t.registrations.local },
    mesh: { ...t.registrations.mesh },
    sessionMaxAge: t.auth.sessionMaxAge,
    earlyValidityWindow: t.auth.earlyValidityWindow,
    validityWindow: t.auth.validityWindow,
    sessionOverlap: config.clustering.auth.sessionOverlap,
    maxClockSkew: config.clustering.auth.maxClockSkew,
    keepaliveRate: config.controlPlane.keepaliveRate,
  };
}

export function bootstrapGroups(config: TunmeshConfig): BootstrapGroup[] {
  return Object.entries(config.clustering.bootstrapGroups).map(([name, g]) => ({
    name,
    urls: [...g.bootstrapNodeUrls],
    retries: g.bootstrapRetries,
  }));
}
