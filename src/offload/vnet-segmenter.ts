// The software segmenter as the send path calls it: the packet as the TUN read it (the 10-byte
// virtio-net header, then the IP packet), cut into packets of at most `mtu` bytes handed to a
// sink one by one: the `Segmenter` of src/offload/software-gso.ts, which the send path calls.
//
// One object per worker: it owns the reusable header object and one target slab (a 64 KB
// super-packet's payload plus the headers of up to MAX_GSO_SEGMENTS segments), so nothing is
// allocated per packet. JavaScript runs one call at a time, and the sink must be done with each
// range before it returns (a transport's append() copies it).

import { VNET_HDR_LEN, VIRTIO_NET_HDR_F_NEEDS_CSUM, newVnetHeader, readVnetHeader } from './vnet-header.js';
import { MAX_GSO_SEGMENTS, MAX_IP_PACKET } from '../tun/vnet.js';
import { completeChecksum, newSegmentTarget, resetSegmentTarget, segmentSuperPacket, type SegmentFailure } from './segment.js';

/** Receives each packet the segmenter emits; the range is valid only during the call. */
export interface VnetSegmentSink {
  packet(buf: Buffer, off: number, len: number): void;
}

/** IPv6 + extension headers + TCP with options, generously. */
const MAX_HEADERS = 256;

export class VnetSegmenter {
  private readonly hdr = newVnetHeader();
  private readonly target = newSegmentTarget(MAX_IP_PACKET + MAX_GSO_SEGMENTS * MAX_HEADERS, MAX_GSO_SEGMENTS);
  /** Why the last segment() call returned -1 (for a log line or a drop reason). */
  lastFailure: SegmentFailure | 'short' | null = null;

  /**
   * Cuts buf[off, off+len) (virtio header + IP packet) into packets of at most `mtu` bytes and
   * hands each to sink.packet() in order; a plain packet (GSO_NONE) is handed over as one, its
   * checksum finished if NEEDS_CSUM. Returns how many, or -1 (nothing emitted; see lastFailure).
   */
  segment(buf: Buffer, off: number, len: number, mtu: number, sink: VnetSegmentSink): number {
    if (len < VNET_HDR_LEN) return this.fail('short');
    readVnetHeader(buf, off, this.hdr);
    const t = this.target;
    resetSegmentTarget(t);
    const n = segmentSuperPacket(this.hdr, buf, off + VNET_HDR_LEN, len - VNET_HDR_LEN, t, mtu);
    if (typeof n !== 'number') return this.fail(n);
    this.lastFailure = null;
    for (let i = 0; i < n; i++) sink.packet(t.buffer, t.offsets[i]!, t.lengths[i]!);
    return n;
  }

  /**
   * Finishes, in place, the checksum of the plain packet behind the header at buf[off, off+len)
   * when the header says NEEDS_CSUM, and clears that flag in the header bytes. False (nothing
   * changed) when the offsets lie outside the packet.
   */
  completeChecksum(buf: Buffer, off: number, len: number): boolean {
    if (len < VNET_HDR_LEN) return false;
    readVnetHeader(buf, off, this.hdr);
    if (!completeChecksum(this.hdr, buf, off + VNET_HDR_LEN, len - VNET_HDR_LEN)) return false;
    buf[off] = buf[off]! & ~VIRTIO_NET_HDR_F_NEEDS_CSUM;
    return true;
  }

  private fail(why: SegmentFailure | 'short'): number {
    this.lastFailure = why;
    return -1;
  }
}
