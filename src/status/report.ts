// What `tunmesh status` shows: peers, their state, session ages and traffic. Ids, URLs and
// addresses only; no key material ever goes in here.
import type { Registry, RemoteNode } from '../mesh/registry.js';
import type { SessionManager } from '../mesh/session-manager.js';
import type { LocalIdentity } from '../mesh/identity.js';
import type { PeerRate, PeerTraffic } from './rates.js';
import type { ClientCert } from '../security/client-cert.js';

export interface PeerStatus {
  id: string;
  url: string;
  address: string;
  /** Its IPv6 mesh address with prefix (from its signed claim); null: none (an original node, or IPv4 only). */
  address6: string | null;
  scope: string;
  path: 'fast' | 'legacy';
  /** The fast path carries v2 frames (TUN offloads both ends: super-packets whole). */
  offload?: boolean;
  state: 'up' | 'connecting' | 'failing';
  lastHeardSecondsAgo: number;
  outboundSessionAgeSeconds: number | null;
  /** Last registration round trip, milliseconds (null before the first). */
  registrationRttMs: number | null;
  failures: number;
  /** Workers whose data channel to the peer works (fast: connected; original path: last POST accepted). */
  channelsUp: number;
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
  /** Bytes per second over the last ~10 s. */
  txBytesPerSecond: number;
  rxBytesPerSecond: number;
  /** The client certificate it last presented (mutual TLS on): SHA-256 hex and expiry (unix seconds); null: none. */
  certFingerprint: string | null;
  certNotAfter: number | null;
}

export interface StatusReport {
  id: string;
  url: string;
  address: string;
  network: string;
  /** Our IPv6 mesh address with prefix, null when IPv4 only. */
  address6: string | null;
  version: string;
  uptimeSeconds: number;
  bootstrapped: boolean;
  ready: boolean;
  workers: number;
  /** TUN offloads the device took at start (csum, tso4, ...); absent without. */
  offloads?: string[];
  /** The port where our workers receive fast channels (announced in the claim); absent: the API port. */
  channelPort?: number;
  /** The firewall rules in force: their count and hash (the same hash on every node: the same rules); absent: no firewall. */
  firewall?: { rules: number; hash: string };
  peers: PeerStatus[];
}

export function peerState(node: RemoteNode, hasSession: boolean): PeerStatus['state'] {
  if (node.faults.consecutiveFailures > 0) return 'failing';
  return hasSession && node.lastSent > 0 ? 'up' : 'connecting';
}

function peerStatus(node: RemoteNode, sessions: SessionManager, path: 'fast' | 'legacy', traffic: PeerTraffic, rate: PeerRate, now: number, cert?: ClientCert): PeerStatus {
  const t = traffic.get(node.info.id) ?? { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, channelsUp: 0 };
  const age = sessions.outbound.ageSeconds(node.info.id, now);
  return {
    id: node.info.id,
    url: node.info.listen_url,
    address: node.info.node_addresses.ipv4.cidr,
    address6: node.capabilities?.ipv6 ?? null,
    scope: node.scope,
    path,
    state: peerState(node, age !== undefined),
    lastHeardSecondsAgo: Math.round(now - node.lastHeard),
    outboundSessionAgeSeconds: age === undefined ? null : Math.round(age),
    registrationRttMs: node.rttSeconds === undefined ? null : Math.round(node.rttSeconds * 10000) / 10,
    failures: node.faults.consecutiveFailures,
    ...t,
    txBytesPerSecond: Math.round(rate.txBytesPerSecond),
    rxBytesPerSecond: Math.round(rate.rxBytesPerSecond),
    certFingerprint: cert?.fingerprint ?? null,
    certNotAfter: cert?.notAfter ?? null,
  };
}

export function statusReport(args: {
  self: LocalIdentity;
  version: string;
  startedAt: number;
  now: number;
  bootstrapped: boolean;
  ready: boolean;
  workers: number;
  registry: Registry;
  sessions: SessionManager;
  pathOf: (node: RemoteNode) => 'fast' | 'legacy';
  framesOf?: (node: RemoteNode) => 1 | 2;
  offloads?: string[];
  firewall?: { rules: number; hash: string };
  traffic: PeerTraffic;
  rateOf: (peerId: string) => PeerRate;
  certOf?: (peerId: string) => ClientCert | undefined;
}): StatusReport {
  const { self, now } = args;
  return {
    id: self.id,
    url: self.info.listen_url,
    address: self.info.node_addresses.ipv4.cidr,
    network: self.info.network_addresses.ipv4.cidr,
    address6: self.capabilities.ipv6 ?? null,
    version: args.version,
    uptimeSeconds: Math.round(now - args.startedAt),
    bootstrapped: args.bootstrapped,
    ready: args.ready,
    workers: args.workers,
    ...(args.offloads !== undefined ? { offloads: args.offloads } : {}),
    ...(args.firewall !== undefined ? { firewall: args.firewall } : {}),
    ...(self.capabilities.channelPort !== undefined ? { channelPort: self.capabilities.channelPort } : {}),
    peers: args.registry.all().map((n) => {
      const p = peerStatus(n, args.sessions, args.pathOf(n), args.traffic, args.rateOf(n.info.id), now, args.certOf?.(n.info.id));
      return args.framesOf?.(n) === 2 ? { ...p, offload: true } : p;
    }),
  };
}
