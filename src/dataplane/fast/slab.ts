// The memory a fast channel frames packets into: a slab of SLAB_BYTES, whose pending batch goes
// to the socket in ONE write (takeBatch()). A region handed to the socket is never rewritten
// while the socket may still hold it:
//
//   full     next() retires the slab with the count of bytes handed to the socket so far, and
//            takes back the oldest retired slab the socket has finished with (the socket finishes
//            writes in order and `writableLength` counts what it has not finished), else a new
//            one (under backpressure), keeping at most MAX_RETIRED.
//   drained  once the socket has finished everything, retired slabs beyond RETIRED_IDLE go back
//            to the GC (drained()).
//   renew    a new socket that takes over from one that may still hold our bytes starts on a
//            fresh slab and forgets the retired ones (replace()): its writableLength says
//            nothing of the old socket's.
//   idle     a channel closed idle gives its slabs back (release()); the next dial allocates.
// So nothing is allocated per packet, and at steady rates nothing at all: two slabs per channel,
// and under sustained backpressure (a fast sender, 64 KB super-packets) up to MAX_RETIRED more,
// instead of a new one per SLAB_BYTES of traffic left for the GC (page faults on fresh memory,
// and freed memory the allocator kept: a worker stayed 10-25 MB larger after traffic).
import { FRAME_HEADER_V2, writeFrame, writeFrameV2 } from './frames.js';

export const SLAB_BYTES = 256 * 1024;
/** Retired slabs kept for reuse under backpressure (bounded memory: queueLimit * MTU is ~6 slabs). */
export const MAX_RETIRED = 6;
/** Retired slabs kept once the socket has drained: the steady state needs one besides the current. */
export const RETIRED_IDLE = 1;
/** The slab of a channel that has none (never opened, or closed idle). */
const NO_SLAB = Buffer.alloc(0);

export class FrameSlab {
  private buf: Buffer = NO_SLAB;
  /** End of the frames written into `buf`. */
  private used = 0;
  /** Start of the frames not yet handed to the socket. */
  private batchStart = 0;
  /**
   * Full slabs, oldest first, each with `written` as it was when the slab was retired: the socket
   * has finished with a slab once it has finished that many bytes.
   */
  private readonly retired: Array<{ buf: Buffer; mark: number }> = [];
  /** Bytes handed to the socket by takeBatch(), over the channel's life (all its sockets). */
  private written = 0;

  /** Bytes of the length prefix in front of each frame (frames.ts). */
  constructor(private readonly header: number) {}

  /** Whether a slab is held (a channel closed idle holds none). */
  get allocated(): boolean {
    return this.buf !== NO_SLAB;
  }

  /** Bytes framed and not yet handed to the socket. */
  get pending(): number {
    return this.used - this.batchStart;
  }

  /** Retired slabs held for reuse. */
  get retiredCount(): number {
    return this.retired.length;
  }

  /** A slab to frame into, allocated when none is held (at a dial). */
  ensure(): void {
    if (this.buf === NO_SLAB) this.buf = Buffer.allocUnsafeSlow(SLAB_BYTES);
  }

  /** Whether a frame of `len` bytes of packet fits behind the frames already in the slab. */
  fits(len: number): boolean {
    return this.used + this.header + len <= this.buf.length;
  }

  /** Frames src[off, off+len) behind its length (the caller checked fits()). */
  append(src: Buffer, off: number, len: number): void {
    this.used = this.header === FRAME_HEADER_V2 ? writeFrameV2(this.buf, this.used, src, off, len) : writeFrame(this.buf, this.used, src, off, len);
  }

  /** The pending batch, for ONE socket.write; it counts as handed to the socket. */
  takeBatch(): Buffer {
    const batch = this.buf.subarray(this.batchStart, this.used);
    this.written += this.used - this.batchStart;
    this.batchStart = this.used;
    return batch;
  }

  /**
   * The slab is full (its batch was taken): a fresh region. The socket has finished
   * `written - unfinished` of our bytes (fewer while the upgrade request is pending: on the safe
   * side); the oldest retired slab whose bytes all lie below that is reused, else a new one.
   */
  next(unfinished: number): void {
    const finished = this.written - unfinished;
    this.retired.push({ buf: this.buf, mark: this.written });
    const oldest = this.retired[0]!;
    const reuse = oldest.mark <= finished; // may be the slab just retired, when the socket drained
    if (reuse) this.retired.shift();
    else if (this.retired.length > MAX_RETIRED) this.retired.shift(); // left to the GC
    this.buf = reuse ? oldest.buf : Buffer.allocUnsafeSlow(SLAB_BYTES);
    this.used = this.batchStart = 0;
  }

  /** The socket has finished all our bytes: what backpressure made us keep goes back to the GC. */
  drained(): void {
    if (this.retired.length > RETIRED_IDLE) this.retired.splice(0, this.retired.length - RETIRED_IDLE);
  }

  /** The pending batch goes with a connection that closed before sending it. */
  discardPending(): void {
    this.used = this.batchStart;
  }

  /** A new socket takes over from one that may still hold our slabs: a fresh slab, none retired. */
  replace(): void {
    this.buf = Buffer.allocUnsafeSlow(SLAB_BYTES);
    this.retired.length = 0;
    this.used = this.batchStart = 0;
  }

  /** The channel closed idle: the slabs go back to the GC (the next dial allocates). */
  release(): void {
    this.buf = NO_SLAB;
    this.retired.length = 0;
    this.used = this.batchStart = 0;
  }
}
