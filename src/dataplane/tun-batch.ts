// The receive path's step 4: accepted packets wait here, as offsets into the buffers they came
// in, and go to the kernel in ONE writeBatch on this process's TUN queue. A batch holds ranges of
// one buffer only: a packet from another buffer (a reassembled frame, the next chunk) writes the
// batch out first. Also the Coalescer's sink (offload/coalesce.ts) on a TUN with offloads.
import type { TunQueue } from '../tun/queue.js';
import { VNET_HDR_LEN } from '../tun/vnet.js';
import type { DataPlaneMetrics } from './metrics.js';

/** Frames handed to one writeBatch at most (a 64 KiB chunk of minimal packets is ~1600). */
const MAX_WRITE_BATCH = 2048;

export class TunBatch {
  private readonly offsets = new Uint32Array(MAX_WRITE_BATCH);
  private readonly lengths = new Uint32Array(MAX_WRITE_BATCH);
  private buf: Buffer | undefined;
  private count = 0;
  private bytes = 0;
  private ipv6 = 0;
  /** The ranges start with a virtio_net_hdr (v2 frames); else the TUN queue adds an empty one if it needs it. */
  private withHeader = false;

  constructor(
    private readonly tun: TunQueue,
    private readonly metrics: DataPlaneMetrics,
  ) {}

  /** buf[off, off+len): a packet, or (withHeader) a virtio_net_hdr and its packet. */
  add(buf: Buffer, off: number, len: number, withHeader = false): void {
    if (this.count === MAX_WRITE_BATCH || ((this.buf !== buf || this.withHeader !== withHeader) && this.count > 0)) this.write();
    this.buf = buf;
    this.withHeader = withHeader;
    this.offsets[this.count] = off;
    this.lengths[this.count++] = len;
    this.bytes += withHeader ? len - VNET_HDR_LEN : len;
    if (buf[withHeader ? off + VNET_HDR_LEN : off]! >>> 4 === 6) this.ipv6++;
  }

  /** Writes what waits; packets the kernel refuses or has no room for are `tun_issue`. */
  write(): number {
    const n = this.count;
    if (n === 0 || this.buf === undefined) return 0;
    const written = this.tun.writeBatch(this.buf, this.offsets, this.lengths, n, this.withHeader).written;
    const { bytes, ipv6 } = this;
    this.count = this.bytes = this.ipv6 = 0;
    this.buf = undefined;
    // In a worker the queue is also the one its send path reads: what the kernel answered within
    // the write (a ping's reply, a TCP ACK) goes out now, before the counting below and the rest
    // of this event-loop turn (measured: a ping's reply on the wire 35 us sooner, bench/README.md
    // "2026-12-08").
    if (written > 0) this.tun.readNow();
    // A partial write (kernel queue full, a refused packet) is rare: its bytes are estimated.
    this.metrics.wroteToTun(written, written === n ? bytes : Math.round((bytes * written) / n), written === n ? ipv6 : Math.round((ipv6 * written) / n));
    this.metrics.drop('tun_issue', n - written);
    return written;
  }
}
