// One TUN queue (one fd) on the hot path. A worker owns exactly one queue:
//
//   kernel -> TUN queue fd -> native Reader drains up to `batchSize` packets into one
//   preallocated buffer -> ONE JS call per batch (onPackets) -> ... mesh ...
//   -> writeBatch(): one native call writes many packets back into the kernel.
//
// Nothing here allocates per packet: the read buffer, the lengths array and the single-packet
// write arrays are allocated once in the constructor and reused for the life of the queue.

import { loadAddon, type NativeReader, type TunAddon } from './addon.js';
import { TunError, tunIoError } from './errors.js';

/**
 * A batch of packets read from the queue. Packet i is at
 * `buffer[i * slotSize + headroom, i * slotSize + headroom + lengths[i])`
 * (see packetOffset()). The SAME object, buffer and lengths are reused for every batch: the
 * handler must finish with (or copy) the packets before it returns.
 */
export interface PacketBatch {
  readonly buffer: Buffer;
  /** Packets in this batch; lengths[0..count) are valid. */
  count: number;
  readonly slotSize: number;
  /** Bytes kept free in front of each packet, for a frame header written in place. */
  readonly headroom: number;
  readonly lengths: Uint32Array;
}

export function packetOffset(batch: PacketBatch, i: number): number {
  return i * batch.slotSize + batch.headroom;
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
export const SLOT_SLACK = 64;

export type PacketHandler = (batch: PacketBatch) => void;
export type QueueErrorHandler = (err: TunError) => void;

export class TunQueue {
  readonly fd: number;
  readonly mtu: number;
  readonly batchSize: number;
  readonly slotSize: number;

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
    // Slots are 8-byte aligned so headers written in place stay aligned.
    this.slotSize = (headroom + opts.mtu + SLOT_SLACK + 7) & ~7;
    this.batch = {
      // allocUnsafeSlow: a dedicated (not pooled) buffer, since the addon keeps pointing into it.
      buffer: Buffer.allocUnsafeSlow(this.slotSize * batchSize),
      count: 0,
      slotSize: this.slotSize,
      headroom,
      lengths: new Uint32Array(batchSize),
    };
  }

  /** Starts reading; `handler` is called once per batch. Replaces an earlier handler. */
  onPackets(handler: PacketHandler): void {
    this.assertOpen();
    this.handler = handler;
    if (this.reader !== undefined) return;
    const b = this.batch;
    this.reader = new this.addon.Reader(this.fd, b.buffer, b.slotSize, this.batchSize, b.lengths, (n) => this.onBatch(n), b.headroom);
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
   * The returned object is reused by the next write.
   */
  writeBatch(buffer: Buffer, offsets: Uint32Array, lengths: Uint32Array, count: number): WriteResult {
    this.assertOpen();
    try {
      this.addon.writeBatch(this.fd, buffer, offsets, lengths, count, this.resultWords);
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

  get isClosed(): boolean {
    return this.closed;
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
