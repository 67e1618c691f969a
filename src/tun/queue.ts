// One TUN queue (one fd) on the hot path. A worker owns exactly one queue:
//
//   kernel -> TUN queue fd -> native Reader drains up to `batchSize` packets into one
//   preallocated buffer -> ONE JS call per batch (onPackets) -> ... mesh ...
//   -> writeBatch(): one native call writes many packets back into the kernel.
//
// Nothing here allocates per packet: the read buffer, the lengths array and the single-packet
// write arrays are allocated once in the constructor and reused for the life of the queue.
//
// The read buffer is an arena the reader packs packets into (offsets[i] says where packet i is):
// on a device with offloads (vnetHeader) a read may be a 64 KB super-packet behind its
// virtio_net_hdr, and packing keeps the arena at OFFLOAD_ARENA_BYTES instead of 64 x 64 KB.

import { loadAddon, type NativeReader, type TunAddon } from './addon.js';
import { TunError, tunIoError } from './errors.js';
import { MAX_SUPER_PACKET, VNET_HDR_LEN } from './vnet.js';

/**
 * A batch of packets read from the queue. Packet i is at `buffer[offsets[i], offsets[i] + lengths[i])`
 * (see packetOffset()); on a vnet device that range starts with the VNET_HDR_LEN-byte header.
 * The SAME object, buffer and arrays are reused for every batch: the handler must finish with
 * (or copy) the packets before it returns.
 */
export interface PacketBatch {
  readonly buffer: Buffer;
  /** Packets in this batch; offsets/lengths[0..count) are valid. */
  count: number;
  /** The most one read may take (headroom included). */
  readonly slotSize: number;
  /** Bytes kept free in front of each packet, for a frame header written in place. */
  readonly headroom: number;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /** Bytes of virtio_net_hdr at the start of each packet: VNET_HDR_LEN on an offload device, else 0. */
  readonly vnetHeader: number;
}

export function packetOffset(batch: PacketBatch, i: number): number {
  return batch.offsets[i]!;
}

/** Result of a write; the object returned by TunQueue is reused by the next write. */
export interface WriteResult {
  written: number;
  /** Malformed packets the kernel refused (EINVAL/EIO), or ranges outside the buffer. */
  rejected: number;
}

export interface TunQueueOptions {
  /** Device MTU: the largest packet the kernel hands us. */
  mtu: number;
  /** Packets read per readiness, at most (default DEFAULT_BATCH_SIZE). */
  batchSize?: number;
  /** Free bytes in front of each packet in the read buffer (default 0). */
  headroom?: number;
  /** The device was opened with IFF_VNET_HDR: reads and writes carry the header (default false). */
  vnetHeader?: boolean;
  /**
   * Whether close() closes the fd (default true). Pass false when the fd belongs to a
   * TunDevice in the same process, which closes it itself.
   */
  closeFd?: boolean;
}

/** Packets per batch: enough to amortize the N-API crossing, small enough to stay in cache. */
export const DEFAULT_BATCH_SIZE = 64;

/**
 * Extra room per slot over the MTU. A TUN without offloads never hands us more than the MTU, so
 * a read that fills a slot means the packet was longer (the MTU was raised under us; the kernel
 * truncates silently): the reader drops it and counts it in truncated().
 */
const SLOT_SLACK = 64;

/**
 * Read arena of a queue on an offload device: room for 15 super-packets, or a full batch of
 * packets up to 16 KB. Memory per worker instead of 64 fixed 64 KB slots (4 MB).
 */
const OFFLOAD_ARENA_BYTES = 1024 * 1024;

export type PacketHandler = (batch: PacketBatch) => void;
export type QueueErrorHandler = (err: TunError) => void;

export class TunQueue {
  readonly fd: number;
  readonly mtu: number;
  readonly batchSize: number;
  readonly slotSize: number;
  /** Zero bytes written in front of each packet by write(): the empty header on a vnet device. */
  readonly vnetHeader: number;

  private readonly addon: TunAddon;
  private readonly batch: PacketBatch;
  private readonly closeFd: boolean;
  private readonly oneOffset = new Uint32Array(1);
  private readonly oneLength = new Uint32Array(1);
  private readonly resultWords = new Uint32Array(2);
  private readonly result: WriteResult = { written: 0, rejected: 0 };
  private reader: NativeReader | undefined;
  private handler: PacketHandler | undefined;
  private errorHandler: QueueErrorHandler | undefined;
  private closed = false;

  constructor(fd: number, opts: TunQueueOptions) {
    if (!Number.isInteger(fd) || fd < 0) throw new TunError('TUN_INVALID_OPTION', `TUN queue fd must be a non-negative integer, got ${fd}`);
    if (!Number.isInteger(opts.mtu) || opts.mtu < 68 || opts.mtu > 65535) {
      throw new TunError('TUN_INVALID_OPTION', `TUN MTU must be an integer in 68..65535, got ${opts.mtu}`);
    }
    const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 4096) {
      throw new TunError('TUN_INVALID_OPTION', `TUN batch size must be an integer in 1..4096, got ${batchSize}`);
    }
    const headroom = opts.headroom ?? 0;
    if (!Number.isInteger(headroom) || headroom < 0 || headroom > 1024) {
      throw new TunError('TUN_INVALID_OPTION', `TUN read headroom must be an integer in 0..1024, got ${headroom}`);
    }
    this.addon = loadAddon();
    this.fd = fd;
    this.mtu = opts.mtu;
    this.batchSize = batchSize;
    this.closeFd = opts.closeFd ?? true;
    this.vnetHeader = opts.vnetHeader === true ? VNET_HDR_LEN : 0;
    // Slots are 8-byte aligned so headers written in place stay aligned. With offloads a read
    // may be a super-packet whatever the MTU.
    const largest = this.vnetHeader > 0 ? VNET_HDR_LEN + Math.max(MAX_SUPER_PACKET, opts.mtu) : opts.mtu;
    this.slotSize = (headroom + largest + SLOT_SLACK + 7) & ~7;
    const arena = this.vnetHeader > 0 ? Math.max(OFFLOAD_ARENA_BYTES, this.slotSize) : this.slotSize * batchSize;
    this.batch = {
      // allocUnsafeSlow: a dedicated (not pooled) buffer, since the addon keeps pointing into it.
      buffer: Buffer.allocUnsafeSlow(arena),
      count: 0,
      slotSize: this.slotSize,
      headroom,
      offsets: new Uint32Array(batchSize),
      lengths: new Uint32Array(batchSize),
      vnetHeader: this.vnetHeader,
    };
  }

  /** Starts reading; `handler` is called once per batch. Replaces an earlier handler. */
  onPackets(handler: PacketHandler): void {
    this.assertOpen();
    this.handler = handler;
    if (this.reader !== undefined) return;
    const b = this.batch;
    this.reader = new this.addon.Reader(this.fd, b.buffer, b.slotSize, this.batchSize, b.lengths, (n) => this.onBatch(n), b.headroom, b.offsets);
    try {
      this.reader.start();
    } catch (err) {
      this.reader = undefined;
      throw tunIoError('read', this.fd, err);
    }
  }

  /**
   * Called once if reading fails (typically the device was removed); reading has then stopped.
   * Without a handler the error is thrown as an uncaught exception.
   */
  onError(cb: QueueErrorHandler): void {
    this.errorHandler = cb;
  }

  /**
   * Writes packets buffer[offsets[i], offsets[i] + lengths[i]) for i < count, one write(2) each.
   * Stops at the first EAGAIN (kernel queue full): count - written - rejected were dropped.
   * On a vnet device each packet gets an empty header in front unless `withHeader` says the
   * ranges already start with one. The returned object is reused by the next write.
   */
  writeBatch(buffer: Buffer, offsets: Uint32Array, lengths: Uint32Array, count: number, withHeader = false): WriteResult {
    this.assertOpen();
    try {
      this.addon.writeBatch(this.fd, buffer, offsets, lengths, count, this.resultWords, withHeader ? 0 : this.vnetHeader);
    } catch (err) {
      throw tunIoError('write', this.fd, err);
    }
    this.result.written = this.resultWords[0]!;
    this.result.rejected = this.resultWords[1]!;
    return this.result;
  }

  /** Writes one packet; false when it was dropped (queue full) or refused as malformed. */
  write(packet: Buffer): boolean {
    this.oneOffset[0] = 0;
    this.oneLength[0] = packet.length;
    return this.writeBatch(packet, this.oneOffset, this.oneLength, 1).written === 1;
  }

  /**
   * Reads now what the queue holds, as if it had turned readable: the handler runs before this
   * returns. For right after a write: the kernel may answer a written packet within the write
   * (an ICMP echo reply, a TCP ACK or SYN-ACK) on this queue, and read here the answer goes out
   * without waiting for the rest of the event-loop turn. Costs one read(2) when nothing is there;
   * does nothing on a queue that is not reading, or from inside the handler.
   */
  readNow(): void {
    this.reader?.poll();
  }

  /** Packets dropped because they exceeded a slot (MTU raised after open). */
  truncated(): number {
    return this.reader?.truncated() ?? 0;
  }

  /** Stops reading and (unless closeFd: false) closes the fd. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Stop polling BEFORE closing: epoll must not watch an fd number that may be reused.
    this.reader?.stop();
    this.reader = undefined;
    this.handler = undefined;
    if (this.closeFd) this.addon.close(this.fd);
  }

  private onBatch(n: number): void {
    if (n < 0) {
      this.reader = undefined;
      const err = tunIoError('read', this.fd, -n);
      if (this.errorHandler === undefined) throw err;
      this.errorHandler(err);
      return;
    }
    if (this.handler === undefined) return;
    this.batch.count = n;
    this.handler(this.batch);
  }

  private assertOpen(): void {
    if (this.closed) throw new TunError('TUN_IO', `TUN queue fd ${this.fd} is closed`);
  }
}
