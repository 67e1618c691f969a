// Typed view of the native addon (native/tun.cc). Nothing outside src/tun should need it: the
// device and queue modules wrap it.

import { createRequire } from 'node:module';
import { TunError } from './errors.js';
import { errorMessage } from '../log/error-message.js';

export interface NativeOpenResult {
  fd: number;
  /** The name the kernel gave the device (the same as requested, since we always pass one). */
  name: string;
}

export interface NativeWriteResult {
  written: number;
  rejected: number;
}

/** Receives a batch size, or a negative errno when the queue failed (polling has then stopped). */
export type NativeBatchCallback = (countOrNegErrno: number) => void;

export interface NativeReader {
  start(): void;
  stop(): void;
  /** Packets dropped because they were longer than a slot. */
  truncated(): number;
  /** Reads what the queue holds now, calling onBatch before it returns; nothing from inside onBatch. */
  poll(): void;
}

export interface NativeReaderConstructor {
  new (
    fd: number,
    buffer: Buffer,
    slotSize: number,
    slots: number,
    lengths: Uint32Array,
    onBatch: NativeBatchCallback,
    headroom?: number,
    /** Packed mode: the buffer is an arena, packet i starts at offsets[i] (native/tun.cc). */
    offsets?: Uint32Array,
  ): NativeReader;
}

export interface TunAddon {
  open(name: string, multiQueue: boolean, exclusive?: boolean, vnetHeader?: boolean): NativeOpenResult;
  close(fd: number): void;
  writeBatch(fd: number, buffer: Buffer, offsets: Uint32Array, lengths: Uint32Array, count: number): NativeWriteResult;
  /** Zero-allocation form: fills result[0] = written, result[1] = rejected, returns written. */
  writeBatch(
    fd: number,
    buffer: Buffer,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    result: Uint32Array,
    /** Zero bytes written in front of each packet (the empty virtio_net_hdr), 0..16. */
    zeroPrefix?: number,
  ): number;
  Reader: NativeReaderConstructor;
  /** TUNSETQUEUE + IFF_DETACH_QUEUE: the queue still writes but is never handed packets. */
  detachQueue(fd: number): void;
  /** TUNSETVNETHDRSZ. */
  setVnetHeaderSize(fd: number, bytes: number): void;
  /** TUNSETOFFLOAD with TUN_F_* bits (device-wide, immediate); throws with errno EINVAL for unknown bits. */
  setOffload(fd: number, flags: number): void;
  /** SO_RCVBUF and TCP_NOTSENT_LOWAT on a TCP socket (0: leave that one alone); throws with errno. */
  setSocketQueue(fd: number, receiveBuffer: number, notSentLowat: number): void;
}

// Relative to this file, so it resolves from src/tun/*.ts (tsx) and dist/tun/*.js alike.
const ADDON_PATH = '../../build/Release/tunmesh_tun.node';

let cached: TunAddon | undefined;

/** Loads the addon once. Throws TunError('TUN_ADDON_MISSING') with the build command if absent. */
export function loadAddon(): TunAddon {
  if (cached !== undefined) return cached;
  const require = createRequire(import.meta.url);
  try {
    cached = require(ADDON_PATH) as TunAddon;
  } catch (err) {
    throw new TunError(
      'TUN_ADDON_MISSING',
      `cannot load the native TUN addon (${ADDON_PATH} from ${import.meta.url}): ` +
        `${errorMessage(err)}; build it with npm install (or npm run install)`,
      { cause: err },
    );
  }
  return cached;
}
