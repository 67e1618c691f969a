// The boundary between the control plane (main process) and the data plane (workers and the
// main process's receive path). One small typed protocol; the main process publishes a
// complete `DataPlaneState` whenever membership or sessions change, workers keep nothing else.
//
//   main ──state──▶ worker        who the peers are, where they live, which path, which key
//   main ──metrics_request──▶ worker   at a scrape (all) or a status refresh (traffic)
//   main ◀─metrics── worker       its prom-client JSON, aggregated in main
//   main ◀─session_rejected── worker   a peer refused our key: main renegotiates and republishes
//
// Fast channels opened on the channel port (fast/channel-server.ts) are received in a worker:
//   main ──channel_socket + handle──▶ worker   a raw TCP connection main accepted (TLS not begun)
//   main ◀─upgrade_check── worker             the upgrade's token and client certificate: every
//   main ──upgrade_verdict──▶ worker          check stays in main (node/channel-checks.ts)
//   main ──sessions_ended──▶ worker           inbound keys that stopped verifying: close their channels

import type { PresentedCert } from '../security/client-cert.js';

/**
 * What main asks a worker for: its whole registry (a scrape), or only the per-peer series
 * (`tunmesh_peer_*`, the status view's traffic, refreshed every few seconds). Asked, not pushed
 * on a timer: an idle worker spent ~40 % of its CPU collecting a snapshot every 2 s (issue 19).
 */
export type MetricsScope = 'all' | 'traffic';

export interface PeerRoute {
  id: string;
  /** https://host:port as advertised. */
  url: string;
  /** The peer's node address with prefix, e.g. 198.19.1.2/24. */
  addressCidr: string;
  /** The peer's mesh network, e.g. 198.19.0.0/16. */
  networkCidr: string;
  /** 'fast': length-prefixed frames over an upgraded TLS channel; 'legacy': the original's JSON POSTs. */
  path: 'fast' | 'legacy';
  /** The original's split, decided by the registry: 'local' peers share our subnet. */
  scope: 'local' | 'mesh';
  /** 'original': a Ruby node (no capability claim); it never receives IPv6. Absent: tunmesh. */
  kind?: 'tunmesh' | 'original';
  /** The peer's IPv6 node address with prefix, from its signed claim; null or absent: it has none. */
  address6Cidr?: string | null;
  /** The peer's TUN MTU from its signed claim (absent: unknown, taken as ours). */
  mtu?: number;
  /** Our outbound session toward the peer; null until negotiated (packets to it are dropped). */
  session: { id: string; secretB64: string } | null;
  /** Fast-path framing: 2 when both ends announced offloads (fast/frames.ts); absent: 1. */
  frames?: 1 | 2;
  /** The peer's channel port from its signed claim: fast channels go there (same host as url). Absent: to url. */
  channelPort?: number;
}

export interface DataPlaneState {
  selfId: string;
  /** Our node address with prefix, e.g. 198.19.1.1/24. */
  addressCidr: string;
  networkCidr: string;
  /** Our IPv6 node address with prefix and the IPv6 mesh network; null or absent: IPv4 only. */
  address6Cidr?: string | null;
  network6Cidr?: string | null;
  enableBroadcast: boolean;
  mtu: number;
  peers: PeerRoute[];
}

export interface DataPlaneSettings {
  /** Claims every token we sign carries (our capabilities: mesh/capabilities.ts). */
  tokenClaims: Readonly<Record<string, unknown>>;
  /** PEM of the CA that verifies peers (our cert when none is configured). */
  caPem: string;
  /** Our certificate and key, presented as the client certificate (peers with mutual TLS need it). */
  certPem: string;
  keyPem: string;
  verifyHostname: boolean;
  requestTimeoutMs: number;
  /** A fast channel without a packet for this long closes (0: never); it opens again at the next packet. */
  channelIdleMs: number;
  maxBatchSize: number;
  /** Packets per peer queue before drops (bounded memory). */
  queueLimit: number;
  packetExpirationLocal: number;
  packetExpirationMesh: number;
  earlyValidityWindow: number;
  validityWindow: number;
  logLevel: string;
  logFormat: string;
  /** The TUN device has offloads: every queue reads and writes a virtio_net_hdr first (tun/vnet.ts). */
  vnetHeader?: boolean;
  /** tunmesh.tls.client_auth, for channels received in the worker (off: no client certificate asked). */
  clientAuth?: 'off' | 'request' | 'require';
}

/** Main's answer to an upgrade_check: the channel's peer and session key, or why it is refused. */
export type UpgradeVerdict =
  | { ok: true; peerId: string; keyId?: string }
  | { ok: false; status: 401 | 403; reason: string; message: string };

export type MainToWorker =
  /** At start, and again when the TLS material is reloaded (new connections use it; open ones stay). */
  | { type: 'settings'; settings: DataPlaneSettings }
  | { type: 'state'; state: DataPlaneState }
  /** Sent with a net.Socket handle: a connection to the channel port, for this worker to serve. */
  | { type: 'channel_socket' }
  | { type: 'upgrade_verdict'; id: number; verdict: UpgradeVerdict }
  /** These inbound session keys no longer verify: channels opened with them end. */
  | { type: 'sessions_ended'; keyIds: string[] }
  | { type: 'metrics_request'; id: number; scope: MetricsScope }
  | { type: 'shutdown' };

export type WorkerToMain =
  | { type: 'ready'; worker: number }
  /** The answer to metrics_request `id`. */
  | { type: 'metrics'; worker: number; id: number; scope: MetricsScope; metrics: unknown }
  /** Check a fast-path upgrade this worker received: its Authorization header, claimed sender, client certificate. */
  | { type: 'upgrade_check'; worker: number; id: number; authorization: string | undefined; peerId: string; cert: PresentedCert | null }
  /** A peer refused requests signed with our session `sessionId`. */
  | { type: 'session_rejected'; worker: number; peerId: string; sessionId: string };
