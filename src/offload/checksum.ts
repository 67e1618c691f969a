// Internet checksum (RFC 1071) pieces for software segmentation, where whole 64 KB super-packets
// are summed: src/tun/ipv4.ts's internetChecksum() adds 16-bit words byte by byte, which is right
// for a 20-byte IP header but 2-3x slower over payloads than reading 32-bit words through a
// DataView (measured on this machine). The sums here are UNFOLDED partial sums (plain numbers,
// exact up to 2^53); fold() turns one into 16 bits.
import { wordSum } from '../tun/ipv4.js';

/** The last two DataViews made: the packet's read buffer and the output slab, in steady state. */
let viewBufA: ArrayBufferLike | null = null;
let viewA: DataView | null = null;
let viewBufB: ArrayBufferLike | null = null;
let viewB: DataView | null = null;

function viewOf(buf: Buffer): DataView {
  const ab = buf.buffer;
  if (ab === viewBufA) return viewA!;
  if (ab === viewBufB) return viewB!;
  viewBufB = viewBufA;
  viewB = viewA;
  viewBufA = ab;
  viewA = new DataView(ab);
  return viewA;
}

/** Unfolded sum of the big-endian 16-bit words of buf[off, off+len), an odd last byte padded with zero. */
export function onesSum(buf: Buffer, off: number, len: number): number {
  // Short ranges (headers): setting up a DataView read costs more than it saves.
  if (len < 64) return wordSum(buf, off, len);
  const dv = viewOf(buf);
  let i = buf.byteOffset + off;
  const end = i + len;
  let sum = 0;
  // 32-bit words: the one's complement sum is the sum modulo 0xffff, and
  // hi * 0x10000 + lo === hi + lo (mod 0xffff). As doubles, 64 KB of them stays exact.
  for (const last = end - 4; i <= last; i += 4) sum += dv.getUint32(i);
  if (i + 2 <= end) {
    sum += dv.getUint16(i);
    i += 2;
  }
  if (i < end) sum += dv.getUint8(i) << 8;
  return sum;
}


/** Folds an unfolded sum to 16 bits (end-around carry, as RFC 1071). */
export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value for an unfolded sum over the covered bytes (field counted as zero). */
export function checksumOf(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** Unfolded pseudo-header sum of IPv4 (RFC 793/768): addresses, protocol and the L4 length. */
export function pseudoSumV4(buf: Buffer, ipOff: number, proto: number, l4Len: number): number {
  return wordSum(buf, ipOff + 12, 8) + proto + l4Len;
}

/** Unfolded pseudo-header sum of IPv6 (RFC 8200 8.1): addresses, next header and the L4 length. */
export function pseudoSumV6(buf: Buffer, ipOff: number, proto: number, l4Len: number): number {
  return wordSum(buf, ipOff + 8, 32) + proto + l4Len;
}
