// The send path's step 4 for a packet read from a TUN with offloads: buf[at, at + total) is a
// virtio_net_hdr followed by the packet, possibly a GSO super-packet of up to 64 KB.
//
//   v2 fast channel   the header and the whole super-packet go as ONE frame (the receiver's
//                     kernel segments it, or delivers it whole to a local socket);
//   any other path    (v1 fast channel, the original's JSON path) carries MTU-sized, finished
//                     packets: a plain packet goes without its header; a super-packet is cut,
//                     and a NEEDS_CSUM packet's checksum filled in, by the software segmenter
//                     (offload/software-gso.ts).
import { softwareSegmenter, type SegmentSink } from '../offload/software-gso.js';
import { VNET_GSO_NONE, VNET_HDR_F_NEEDS_CSUM, VNET_HDR_LEN, vnetGsoType, vnetNeedsCsum } from '../tun/vnet.js';
import type { DropReason } from './drop-reasons.js';
import type { PeerTransport } from './transport.js';

/** Hands the segments of one super-packet to one transport; reused (no closure per packet). */
class TransportSink implements SegmentSink {
  transport: PeerTransport | null = null;
  dropped: DropReason | null = null;
  packet(buf: Buffer, off: number, len: number): void {
    const why = this.transport!.append(buf, off, len);
    if (why !== null && this.dropped === null) this.dropped = why;
  }
}

const sink = new TransportSink();

/** Whether a packet behind its header at buf[at] is a GSO super-packet. */
export function isSuperPacket(buf: Buffer, at: number): boolean {
  return vnetGsoType(buf, at) !== VNET_GSO_NONE;
}

/** Appends the header + packet at buf[at, at + total) to `t`; null when queued, else why it was dropped. */
export function appendWithHeader(t: PeerTransport, buf: Buffer, at: number, total: number, mtu: number): DropReason | null {
  if (t.frames === 2) return t.append(buf, at, total);
  const off = at + VNET_HDR_LEN;
  const len = total - VNET_HDR_LEN;
  const superPacket = isSuperPacket(buf, at);
  if (!superPacket && !vnetNeedsCsum(buf, at)) return t.append(buf, off, len);
  const seg = softwareSegmenter;
  if (!superPacket) {
    if (!seg.completeChecksum(buf, at, total)) return 'malformed';
    buf[at] = buf[at]! & ~VNET_HDR_F_NEEDS_CSUM; // done once: a broadcast's next transport sends it as is
    return t.append(buf, off, len);
  }
  sink.transport = t;
  sink.dropped = null;
  const n = seg.segment(buf, at, total, mtu, sink);
  sink.transport = null;
  return n < 0 ? 'malformed' : sink.dropped;
}
