// Fast-path framing: every IP packet travels as `[u16 big-endian length][packet]` on one TLS
// stream. The writer appends frames into a sender-owned slab; the reader finds frames in the
// received chunks without copying them, except a frame cut by a chunk boundary, which is
// reassembled in one preallocated buffer.

/** Bytes of the length prefix. */
export const FRAME_HEADER = 2;

/** The longest frame the u16 prefix can carry. Policy (the MTU) is the receiver's business. */
export const MAX_FRAME = 0xffff;

/** Appends one frame for src[off, off+len) at dst[at]; returns the new end. The caller checked room. */
export function writeFrame(dst: Buffer, at: number, src: Buffer, off: number, len: number): number {
  dst[at] = len >>> 8;
  dst[at + 1] = len & 0xff;
  src.copy(dst, at + FRAME_HEADER, off, off + len);
  return at + FRAME_HEADER + len;
}

/** Where the reader delivers packets. */
export interface FrameSink {
  /** One packet, buf[off, off+len). Only valid until the next flush() returns. */
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

  /**
   * maxFrame: the longest frame kept (default: anything the prefix can say). An empty or longer
   * frame is malformed and ends the stream; a packet merely above the MTU is a valid frame that
   * the receiver drops on its own (`oversized`), keeping the channel.
   */
  constructor(private readonly maxFrame: number = MAX_FRAME) {
    this.partial = Buffer.allocUnsafeSlow(FRAME_HEADER + maxFrame);
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
    while (end - off >= FRAME_HEADER) {
      const len = (chunk[off]! << 8) | chunk[off + 1]!;
      if (len === 0 || len > this.maxFrame) return false;
      if (off + FRAME_HEADER + len > end) break;
      sink.frame(chunk, off + FRAME_HEADER, len);
      off += FRAME_HEADER + len;
    }
    sink.flush();
    if (off < end) {
      chunk.copy(this.partial, 0, off, end);
      this.held = end - off;
      if (this.held >= FRAME_HEADER) return this.checkHeldLength();
    }
    return true;
  }

  /** Continues the cut frame from chunk; returns where the chunk's own frames start, or -1. */
  private completePartial(chunk: Buffer, sink: FrameSink): number {
    let off = 0;
    if (this.held < FRAME_HEADER) {
      while (this.held < FRAME_HEADER && off < chunk.length) this.partial[this.held++] = chunk[off++]!;
      if (this.held < FRAME_HEADER) return off;
      if (!this.checkHeldLength()) return -1;
    }
    const need = FRAME_HEADER + this.heldFrameLength - this.held;
    const n = Math.min(need, chunk.length - off);
    chunk.copy(this.partial, this.held, off, off + n);
    this.held += n;
    off += n;
    if (n === need) {
      sink.frame(this.partial, FRAME_HEADER, this.heldFrameLength);
      sink.flush();
      this.held = 0;
    }
    return off;
  }

  private checkHeldLength(): boolean {
    const len = (this.partial[0]! << 8) | this.partial[1]!;
    this.heldFrameLength = len;
    return len !== 0 && len <= this.maxFrame;
  }
}
