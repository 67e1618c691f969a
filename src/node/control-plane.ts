// The control plane of a node, wired: registry, sessions, the peer API client, membership and
// the request authenticator. Events land in metrics and logs; `onChange` tells the node that
// what the data plane must know (peers, sessions) changed.
import type { TunmeshConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { ClusterKeys } from '../auth/cluster-keys.js';
import type { LocalIdentity } from '../mesh/identity.js';
import { Registry, addressOf, type RemoteNode } from '../mesh/registry.js';
import { SessionManager, type NodeKeyPair } from '../mesh/session-manager.js';
import { HttpClient } from '../mesh/http-client.js';
import { HttpPeerApi, type PeerTarget } from '../mesh/peer-api.js';
import { Pacer } from '../mesh/pacer.js';
import { AnswerTimes } from '../mesh/answer-times.js';
import { DeferralLog } from '../mesh/deferral-log.js';
import { Membership } from '../mesh/membership.js';
import { MeshAuthenticator } from '../mesh/authenticator.js';
import type { MeshTiming } from '../mesh/timing.js';
import { cidrContains } from '../tun/ipv4.js';
import type { NodeMetrics } from '../metrics/node.js';
import { bootstrapGroups } from './settings.js';
import { loadConfig } from '../config/load.js';
import type { BootstrapGroup } from '../mesh/membership.js';
import { errorMessage } from '../log/error-message.js';
import type { NodeSecurity } from './security.js';

export interface ControlPlane {
  registry: Registry;
  sessions: SessionManager;
  membership: Membership;
  authenticator: MeshAuthenticator;
  http: HttpClient;
  pacer: Pacer;
}

export interface ControlPlaneArgs {
  config: TunmeshConfig;
  self: LocalIdentity;
  keyPair: NodeKeyPair;
  caPem: Buffer;
  /** TLS material (our client certificate), mutual TLS identity and the deny list. */
  security: NodeSecurity;
  metrics: NodeMetrics;
  timing: MeshTiming;
  log: Logger;
  now: () => number;
  onChange: () => void;
}

export const peerTarget = (n: RemoteNode): PeerTarget => ({ id: n.info.id, url: n.info.listen_url });

export function buildControlPlane(a: ControlPlaneArgs): ControlPlane {
  const { config, metrics, log, timing } = a;
  const ownSubnet = config.networking.ipv4.nodeAddressCidr;
  const registry = new Registry(
    // The original's split: peers inside our own subnet re-register faster ("local").
    (info) => (cidrContains(ownSubnet, addressOf(info)) ? 'local' : 'mesh'),
    // Never back off longer than one re-registration interval: a peer that restarted (new id,
    // same URL) is re-adopted at the first re-registration after it is back.
    (scope) => ({ base: timing.groomInterval, max: Math.max(timing.groomInterval, timing[scope].reregistrationInterval) }),
    {
      added: () => metrics.registrationEvents.labels('joined').inc(),
      removed: (node, why) => {
        metrics.registrationEvents.labels('removed').inc();
        sessions.forget(node.info.id);
        a.security.peerCerts.forget(node.info.id);
        metrics.dataPlane.forgetPeer(node.info.id);
        metrics.latency.forget(node.info.id);
        log.info('node removed', { component: 'mesh', peer: node.info.id, why });
      },
      changed: a.onChange,
    },
  );
  const sessions = new SessionManager(
    a.self.id,
    a.self.tokenClaims,
    new ClusterKeys(config.clustering.auth.secret, config.clustering.auth.additionalClusterSecrets),
    a.keyPair,
    timing,
    config.clustering.auth.legacyPkcs1Interop,
    (peerId, capabilities) => registry.checkCapabilities(peerId, capabilities),
    {
      rotated: (_peer, kind) => metrics.sessionEvents.labels(kind).inc(),
      failed: () => metrics.sessionEvents.labels('failed').inc(),
      changed: a.onChange,
    },
    log,
    a.now,
  );
  registry.refuses = a.security.refusesNode;
  const http = new HttpClient({
    ca: a.caPem,
    cert: a.security.tls.cert,
    key: a.security.tls.key,
    verifyHostname: config.controlApi.ssl.verifyHostname,
    timeoutMs: timing.requestTimeout * 1000,
    refusesServer: (fingerprint) => a.security.deny.deniesFingerprint(fingerprint),
  });
  const deferrals = new DeferralLog(log, (lane) => metrics.controlDeferred.labels(lane).inc());
  const pacer = new Pacer({ limit: CONTROL_REQUESTS_IN_FLIGHT, growLimit: NEW_LINK_REQUESTS_IN_FLIGHT, deferred: (lane) => deferrals.deferred(lane) });
  const answerTimes = new AnswerTimes({ floorMs: timing.requestTimeout * 1000, ceilingMs: answerCeilingSeconds(timing) * 1000 });
  const peerApi = new HttpPeerApi(http, sessions, timing, pacer, answerTimes);
  sessions.attach(peerApi);
  const membership = new Membership({
    self: a.self,
    registry,
    api: peerApi,
    timing,
    groups: bootstrapGroups(config),
    hooks: {
      // Open our session at once: the data plane needs it before the first packet.
      onRegistered: (node) => void sessions.outboundKey(peerTarget(node)).catch(() => undefined),
      event: (kind) => metrics.registrationEvents.labels(kind).inc(),
      roundTrip: (seconds) => metrics.registrationRtt.observe(seconds),
      ...(config.clustering.reloadConfigOnBootstrap ? { reloadGroups: () => reloadBootstrapGroups(config, log) } : {}),
    },
    log,
    now: a.now,
  });
  return { registry, sessions, membership, authenticator: new MeshAuthenticator(sessions, registry, timing, a.security, a.now), http, pacer };
}

/**
 * Control requests in flight at once, and of those the ones that add links (first contacts,
 * first sessions): enough to fill a round trip, few enough that a starved node's handshakes do
 * not all time out together (bench/README.md, "Scale").
 */
export const CONTROL_REQUESTS_IN_FLIGHT = 8;
export const NEW_LINK_REQUESTS_IN_FLIGHT = 4;

/** The longest wait for an answer: half the shortest stale threshold (at most 30 s), never below request_timeout. */
function answerCeilingSeconds(timing: MeshTiming): number {
  return Math.max(timing.requestTimeout, Math.min(30, Math.min(timing.local.staleThreshold, timing.mesh.staleThreshold) / 2));
}

/** The original's reload_config_on_bootstrap: re-read the file; a bad file keeps the groups we have. */
function reloadBootstrapGroups(config: TunmeshConfig, log: Logger): BootstrapGroup[] | undefined {
  try {
    // Files are not re-checked: after the privilege drop the key file may not be readable to us.
    return bootstrapGroups(loadConfig(config.source, process.env, { checkFiles: false }));
  } catch (err) {
    log.warn('config reload before bootstrap failed; keeping the current bootstrap groups', { component: 'mesh', file: config.source, error: errorMessage(err) });
    return undefined;
  }
}
