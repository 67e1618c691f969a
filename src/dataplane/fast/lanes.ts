// Two fast channels to one peer from one worker: a bulk channel and an express lane for small
// packets (issue 20, p99 under load).
//
// Why: one TCP connection per peer is one queue. Behind a bulk stream's 64 KB super-packets, a
// ping-pong's 100-byte packets wait for everything queued before them, in our slab, in the
// kernel's send and receive buffers, and in the receiving worker's read; measured 5-12 ms of
// p99 round trip when the two flows shared a worker, against 0.45-1.2 ms when they did not
// (bench/README.md, "Latency", 2026-12-07). The express lane is a second channel with its own
// queues, so a small packet waits only behind other small packets.
//
// What goes express: an IP packet of at most `expressBytes` (tunmesh/data_plane/express_lane_bytes):
// pure ACKs, DNS, ICMP, RPC requests and short answers. A flow that mixes sizes may see a small
// packet overtake a large one queued before it; TCP takes that as reordering (a duplicate ACK,
// no retransmission below three), the price of not keeping state per flow in the hot path.
// Nothing is negotiated: to the receiver the lane is one more channel from the same peer, as in a
// session renewal, checked the same way (inbound.ts), so any tunmesh peer with fast channels
// accepts it. Each lane opens on its first packet and closes when idle on its own.
import type { PeerRoute } from '../contract.js';
import type { DropReason } from '../drop-reasons.js';
import type { PeerTransport, TransportDeps } from '../transport.js';
import { VNET_HDR_LEN } from '../../tun/vnet.js';
import { FastChannel, type FastChannelOptions } from './channel.js';

export class LanedChannel implements PeerTransport {
  readonly path = 'fast' as const;
  readonly frames: 1 | 2;
  epoch = -1;
  readonly bulk: FastChannel;
  readonly express: FastChannel;
  /** Largest append() length that goes express: the IP packet bound, plus the virtio_net_hdr on v2. */
  private readonly expressMax: number;

  constructor(peer: PeerRoute, deps: TransportDeps, expressBytes: number, opts: FastChannelOptions = {}) {
    this.bulk = new FastChannel(peer, deps, opts);
    this.express = new FastChannel(peer, deps, { ...opts, express: true });
    this.frames = this.bulk.frames;
    this.expressMax = expressBytes + (this.frames === 2 ? VNET_HDR_LEN : 0);
  }

  append(buf: Buffer, off: number, len: number): DropReason | null {
    return len <= this.expressMax ? this.express.append(buf, off, len) : this.bulk.append(buf, off, len);
  }

  /** Both lanes: a lane with nothing pending returns at once. */
  flush(): void {
    this.express.flush();
    this.bulk.flush();
  }

  update(peer: PeerRoute): void {
    this.bulk.update(peer);
    this.express.update(peer);
  }

  close(): void {
    this.bulk.close();
    this.express.close();
  }
}

/** The fast transport to a peer: two lanes, or one channel when the express lane is off (0). */
export function fastTransport(peer: PeerRoute, deps: TransportDeps): PeerTransport {
  const bytes = deps.settings.expressLaneBytes;
  return bytes > 0 ? new LanedChannel(peer, deps, bytes) : new FastChannel(peer, deps);
}
