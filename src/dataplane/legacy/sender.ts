// Sending to a peer that speaks only the original's JSON POSTs (protocol §7, transmit thread):
//
//   append(): copy the packet and its stamp into a bounded per-peer queue (queue_full beyond
//             queueLimit): the JSON path allocates per packet anyway, it is the interop path.
//             IPv6 goes to tunmesh peers only (ethertype 0x86dd); an original node carries
//             IPv4 only and never gets one (`ipv6_to_original`).
//             Before our session to the peer exists (it joined a moment ago) packets wait in the
//             queue, and the packet expiration still applies to them.
//   pump():   one request at a time per peer: take up to maxBatchSize packets, drop those older
//             than the packet expiration (`expired`), POST one with the single route or several
//             with the batch route (a 404 there switches to the single route for good), with a
//             session token over the exact body, on a keep-alive agent.
//   answers:  2xx sent; another 4xx means the peer refused our session (`session_rejected` to
//             main): the batch goes back to the head of the queue and waits for the next session
//             (the original replaces its key at once when we rotate, so requests signed a moment
//             earlier are refused; they are not lost), expiration still applying. Any other
//             failure drops the batch `exception`.
import { Agent, request } from 'node:https';
import type { SecureContext } from 'node:tls';
import type { PeerCounters } from '../metrics.js';
import type { PeerRoute } from '../contract.js';
import type { DropReason } from '../drop-reasons.js';
import { encodeLegacyPacket, internalStamp, stampSeconds } from './packet.js';
import { peerTlsOptions } from '../../security/peer-tls.js';
import { peerEndpoint, type PeerTransport, type TransportDeps } from '../transport.js';
import { errorMessage } from '../../log/error-message.js';

const PACKET_ROUTE = '/tunmesh/control/v0/packet/rx/';

interface Queued {
  data: Buffer;
  stamp: number;
}

export class LegacySender implements PeerTransport {
  readonly path = 'legacy' as const;
  readonly frames = 1 as const;
  epoch = -1;
  private queue: Queued[] = [];
  private sending = false;
  private batchRoute = true;
  private closed = false;
  /** The session the request in flight was signed with (one request at a time per peer). */
  private signedWith = '';
  /** A session the peer refused: nothing is sent until main hands us another. */
  private refused = '';
  /** One request at a time per peer on a kept-alive connection, and the client TLS context its sockets and cached sessions were made under. */
  private pool: { agent: Agent; context: SecureContext } | undefined;
  private readonly counters: PeerCounters;
  private readonly expiration: number;

  constructor(
    private peer: PeerRoute,
    private readonly deps: TransportDeps,
  ) {
    this.counters = deps.metrics.forPeer(peer.id);
    this.expiration = peer.scope === 'local' ? deps.settings.packetExpirationLocal : deps.settings.packetExpirationMesh;
  }

  append(buf: Buffer, off: number, len: number): DropReason | null {
    if (this.peer.kind === 'original' && buf[off]! >>> 4 === 6) return 'ipv6_to_original';
    if (this.queue.length >= this.deps.settings.queueLimit) {
      if (this.canSign()) return 'queue_full';
      this.queue = this.dropExpired(this.queue);
      if (this.queue.length >= this.deps.settings.queueLimit) return 'no_session';
    }
    this.queue.push({ data: Buffer.from(buf.subarray(off, off + len)), stamp: internalStamp() });
    return null;
  }

  flush(): void {
    if (!this.sending && this.queue.length > 0 && this.canSign()) void this.pump();
  }

  private canSign(): boolean {
    return this.peer.session !== null && this.peer.session.id !== this.refused;
  }

  update(peer: PeerRoute): void {
    this.peer = peer;
    this.flush(); // packets that waited for the session
  }

  close(): void {
    this.closed = true;
    this.deps.metrics.drop('node_close', this.queue.length);
    this.queue = [];
    this.pool?.agent.destroy();
  }

  private async pump(): Promise<void> {
    this.sending = true;
    try {
      while (!this.closed && this.queue.length > 0 && this.canSign()) {
        const batch = this.queue.splice(0, this.deps.settings.maxBatchSize);
        const fresh = this.dropExpired(batch);
        if (fresh.length > 0) await this.send(fresh);
      }
    } finally {
      this.sending = false;
    }
  }

  private dropExpired(batch: Queued[]): Queued[] {
    const now = Date.now() / 1000;
    const fresh = batch.filter((q) => now - stampSeconds(q.stamp) <= this.expiration);
    this.deps.metrics.drop('expired', batch.length - fresh.length);
    return fresh;
  }

  private async send(batch: Queued[]): Promise<void> {
    const texts = batch.map((q) => encodeLegacyPacket(q.data, this.deps.selfId, q.stamp));
    try {
      if (batch.length > 1 && this.batchRoute) {
        const status = await this.post(`${PACKET_ROUTE}${this.deps.selfId}/batch`, JSON.stringify(texts));
        if (status !== 404) {
          if (this.settle(status, batch) === 'refused') this.requeue(batch);
          return;
        }
        this.batchRoute = false;
        this.deps.log.info('peer has no batch packet route; using the single route', { peer: this.peer.id });
      }
      for (let i = 0; i < batch.length; i++) {
        const status = await this.post(`${PACKET_ROUTE}${this.deps.selfId}`, texts[i]!);
        // The refused packet and those after it go back in their order.
        if (this.settle(status, batch.slice(i, i + 1)) === 'refused') return this.requeue(batch.slice(i));
      }
    } catch (err) {
      if (this.closed) return; // the peer left and its counters are gone: nothing to count
      this.counters.channelUp.set(0);
      this.deps.metrics.drop('exception', batch.length);
      this.deps.log.debug('legacy packet send failed', { peer: this.peer.id, error: errorMessage(err) });
    }
  }

  /** Counts an answer; 'refused' (a 4xx: the peer refused our session) leaves requeueing to the caller. */
  private settle(status: number, sent: Queued[]): 'sent' | 'refused' | 'dropped' {
    if (this.closed) return 'dropped';
    // The JSON path has no connection: "up" means the peer took the last packets we posted.
    this.counters.channelUp.set(status >= 200 && status < 300 ? 1 : 0);
    if (status >= 200 && status < 300) {
      this.counters.txPackets.inc(sent.length);
      this.counters.txBytes.inc(sent.reduce((n, q) => n + q.data.length, 0));
      return 'sent';
    }
    if (status >= 400 && status < 500) {
      this.refused = this.signedWith;
      this.deps.onRejected(this.peer.id, this.signedWith);
      return 'refused';
    }
    this.deps.metrics.drop('exception', sent.length);
    return 'dropped';
  }

  /** Back to the head of the queue, to be re-signed with the next session (bounded by the queue limit). */
  private requeue(batch: Queued[]): void {
    const room = Math.max(0, this.deps.settings.queueLimit - this.queue.length);
    this.deps.metrics.drop('queue_full', batch.length - Math.min(room, batch.length));
    this.queue = [...batch.slice(0, room), ...this.queue];
  }

  /**
   * The agent for this TLS material. An agent pools sockets and TLS sessions by its options, which
   * do not name the secure context: after a reload it would go on with the old client
   * certificate, so new material gets a new agent (the old one's request has finished).
   */
  private agentFor(context: SecureContext): Agent {
    if (this.pool?.context !== context) {
      this.pool?.agent.destroy();
      this.pool = { agent: new Agent({ keepAlive: true, maxSockets: 1 }), context };
    }
    return this.pool.agent;
  }

  private async post(path: string, body: string): Promise<number> {
    this.signedWith = this.peer.session?.id ?? '';
    const auth = await this.deps.signer.header(this.peer, body);
    if (auth === null) throw new Error('no session');
    const { host, port } = peerEndpoint(this.peer.url);
    const tls = peerTlsOptions(this.deps.settings, host);
    const agent = this.agentFor(tls.secureContext);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host,
          port,
          path,
          method: 'POST',
          agent,
          ...tls,
          timeout: this.deps.settings.requestTimeoutMs,
          headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Authorization: auth },
        },
        (res) => {
          res.resume();
          res.once('end', () => resolve(res.statusCode ?? 0));
          res.once('error', reject);
        },
      );
      req.once('timeout', () => req.destroy(new Error('request timed out')));
      req.once('error', reject);
      req.end(body);
    });
  }
}
