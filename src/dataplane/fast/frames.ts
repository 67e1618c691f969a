// Fast-path framing. Two framings, one per channel, chosen at the upgrade (contract.ts):
//   v1  `[u16 big-endian length][packet]`: every tunmesh fast path; packets up to 64 KB - 1.
//   v2  `[u32 big-endian length][virtio_net_hdr, 10 bytes][packet]`, length = 10 + packet: only
//       between two nodes that both announced TUN offloads. The header is the kernel's own
//       (little-endian virtio 1.0 layout, as read from the sender's TUN) and goes to the
//       receiver's TUN as is: a GSO super-packet of up to 64 KB travels as ONE frame, with what
//       the kernel needs to segment it (gso_type, gso_size, hdr_len) or to finish its checksum
//       (NEEDS_CSUM, csum_start, csum_offset). A u16 cannot say 10 + 65535.
// The writer appends frames into a sender-owned slab; the reader finds frames in the
// received chunks without copying them, except a frame cut by a chunk boundary, which is
// reassembled in one preallocated buffer.
import { MAX_SUPER_PACKET, VNET_HDR_LEN } from '../../tun/vnet.js';

export type FrameVersion = 1 | 2;

/** Bytes of the v1 length prefix. */
export const FRAME_HEADER = 2;
/** Bytes of the v2 length prefix. */
export const FRAME_HEADER_V2 = 4;

/** The longest frame the u16 prefix can carry. Policy (the MTU) is the receiver's business. */
export const MAX_FRAME = 0xffff;
/** The longest v2 frame: a header and the largest super-packet a TUN read returns. */
export const MAX_FRAME_V2 = VNET_HDR_LEN + MAX_SUPER_PACKET;

/** Bytes of the length prefix of a framing. */
export function frameHeaderBytes(version: FrameVersion): number {
  return version === 2 ? FRAME_HEADER_V2 : FRAME_HEADER;
}

/**
 * Appends one v2 frame for src[off, off+len) at dst[at], where the range is a virtio_net_hdr
 * followed by its packet (as read from a vnet TUN); returns the new end. The caller checked room.
 */
export function writeFrameV2(dst: Buffer, at: number, src: Buffer, off: number, len: number): number {
  dst.writeUInt32BE(len, at);
  src.copy(dst, at + FRAME_HEADER_V2, off, off + len);
  return at + FRAME_HEADER_V2 + len;
}

/** Appends one frame for src[off, off+len) at dst[at]; returns the new end. The caller checked room. */
export function writeFrame(dst: Buffer, at: number, src: Buffer, off: number, len: number): number {
  dst[at] = len >>> 8;
  dst[at + 1] = len & 0xff;
  src.copy(dst, at + FRAME_HEADER, off, off + len);
  return at + FRAME_HEADER + len;
}

/** Where the reader delivers packets. */
export interface FrameSink {
  /**
   * One frame's payload, buf[off, off+len): the packet (v1), or header + packet (v2). Only
   * valid until the next flush() returns.
   */
  frame(buf: Buffer, off: number, len: number): void;
  /** No more frames come from the buffer of the previous frame() calls: consume them now. */
  flush(): void;
}

/** Splits a byte stream into frames, across chunk boundaries. One per connection. */
export class FrameReader {
  private readonly partial: Buffer;
  /** Bytes of the cut frame held in `partial` (header included). */
  private held = 0;
  private heldFrameLength = 0;
  private readonly header: number;
  /** The shortest valid frame: one byte of packet (behind the virtio_net_hdr in v2). */
  private readonly minFrame: number;

  /**
   * maxFrame: the longest frame kept (default: anything the framing allows). An empty, shorter
   * or longer frame is malformed and ends the stream; a packet merely above the MTU is a valid
   * frame that the receiver drops on its own (`oversized`), keeping the channel.
   */
  constructor(
    private readonly maxFrame: number = MAX_FRAME,
    readonly version: FrameVersion = 1,
  ) {
    this.header = frameHeaderBytes(version);
    this.minFrame = version === 2 ? VNET_HDR_LEN + 1 : 1;
    this.partial = Buffer.allocUnsafeSlow(this.header + maxFrame);
  }

  private lengthAt(buf: Buffer, off: number): number {
    return this.header === FRAME_HEADER ? (buf[off]! << 8) | buf[off + 1]! : buf.readUInt32BE(off);
  }

  /** Feeds one chunk; false when a frame is malformed (the stream is then unusable). */
  push(chunk: Buffer, sink: FrameSink): boolean {
    let off = 0;
    if (this.held > 0) {
      off = this.completePartial(chunk, sink);
      if (off < 0) return false;
      if (this.held > 0) return true; // the chunk ended inside the same frame
    }
    const end = chunk.length;
    const header = this.header;
    while (end - off >= header) {
      const len = this.lengthAt(chunk, off);
      if (len < this.minFrame || len > this.maxFrame) return false;
      if (off + header + len > end) break;
      sink.frame(chunk, off + header, len);
      off += header + len;
    }
    sink.flush();
    if (off < end) {
      chunk.copy(this.partial, 0, off, end);
      this.held = end - off;
      if (this.held >= header) return this.checkHeldLength();
    }
    return true;
  }

  /** Continues the cut frame from chunk; returns where the chunk's own frames start, or -1. */
  private completePartial(chunk: Buffer, sink: FrameSink): number {
    let off = 0;
    const header = this.header;
    if (this.held < header) {
      while (this.held < header && off < chunk.length) this.partial[this.held++] = chunk[off++]!;
      if (this.held < header) return off;
      if (!this.checkHeldLength()) return -1;
    }
    const need = header + this.heldFrameLength - this.held;
    const n = Math.min(need, chunk.length - off);
    chunk.copy(this.partial, this.held, off, off + n);
    this.held += n;
    off += n;
    if (n === need) {
      sink.frame(this.partial, header, this.heldFrameLength);
      sink.flush();
      this.held = 0;
    }
    return off;
  }

  private checkHeldLength(): boolean {
    const len = this.lengthAt(this.partial, 0);
    this.heldFrameLength = len;
    return len >= this.minFrame && len <= this.maxFrame;
  }
}
