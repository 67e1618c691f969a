// The one interface both ways of reaching a peer share (the fast channel and the original's
// JSON POSTs), as the worker's send path sees them: append packets of one TUN batch, then flush.
import type { LevelLogger } from '../log/logger.js';
import type { DataPlaneMetrics } from './metrics.js';
import type { DataPlaneSettings, PeerRoute } from './contract.js';
import type { DropReason } from './drop-reasons.js';
import type { SessionSigner } from './session-token.js';

export interface PeerTransport {
  readonly path: PeerRoute['path'];
  /** 2: append() takes a virtio_net_hdr + packet (a v2 fast channel); 1: a plain IP packet. */
  readonly frames: 1 | 2;
  /** Set by the send path to flush each touched transport once per TUN batch. */
  epoch: number;
  /** Takes buf[off, off+len) (copied before returning); null when queued, else why it was dropped. */
  append(buf: Buffer, off: number, len: number): DropReason | null;
  /** Sends everything appended since the last flush. */
  flush(): void;
  /** New route data for the same peer (URL or session may have changed). */
  update(peer: PeerRoute): void;
  close(): void;
}

/** What a transport needs from its worker. */
export interface TransportDeps {
  selfId: string;
  mtu: number;
  settings: DataPlaneSettings;
  signer: SessionSigner;
  metrics: DataPlaneMetrics;
  /** The peer refused our session: main renegotiates. */
  onRejected(peerId: string, sessionId: string): void;
  log: LevelLogger;
}

/**
 * Host and port for connecting to a peer URL: `host` without the brackets of an IPv6 literal
 * (what net/tls connect take), `authority` as a Host header carries it (`[2001:2::1]:4567`).
 * `otherPort`: the same host on another port (the peer's channel port).
 */
export function peerEndpoint(url: string, otherPort?: number): { host: string; port: number; authority: string } {
  const u = new URL(url);
  const port = otherPort ?? (u.port === '' ? 443 : Number(u.port));
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port, authority: `${u.hostname}:${port}` };
}
