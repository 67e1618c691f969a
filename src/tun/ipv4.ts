// IPv4 helpers for the hot path: read header fields straight out of a packet buffer at an
// offset, with no allocation. Addresses are unsigned 32-bit numbers (network order value,
// e.g. 198.19.0.1 === 0xc6130001), which compare and mask cheaply.

import { TunError } from './errors.js';

/** The IP version nibble of the packet at `off` (4 or 6 for real packets). */
export function ipVersion(buf: Buffer, off: number): number {
  return buf[off]! >>> 4;
}

/** Header length in bytes (IHL * 4). */
export function ipv4HeaderLength(buf: Buffer, off: number): number {
  return (buf[off]! & 0x0f) << 2;
}

export function ipv4TotalLength(buf: Buffer, off: number): number {
  return buf.readUInt16BE(off + 2);
}

export function ipv4Protocol(buf: Buffer, off: number): number {
  return buf[off + 9]!;
}

export function ipv4Src(buf: Buffer, off: number): number {
  return buf.readUInt32BE(off + 12);
}

export function ipv4Dst(buf: Buffer, off: number): number {
  return buf.readUInt32BE(off + 16);
}

/**
 * Unfolded sum of the big-endian 16-bit words of buf[off, off+len), an odd last byte padded with
 * zero: the RFC 1071 sum before folding, read byte by byte (right for headers; src/offload sums
 * whole payloads faster through 32-bit reads).
 */
export function wordSum(buf: Buffer, off: number, len: number): number {
  let sum = 0;
  const end = off + len - 1;
  let i = off;
  for (; i < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i === end) sum += buf[i]! << 8;
  return sum;
}

/** The Internet checksum (RFC 1071) of buf[off, off+len), folded and complemented. */
export function internetChecksum(buf: Buffer, off: number, len: number): number {
  let sum = wordSum(buf, off, len);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Recomputes the IPv4 header checksum in place. */
export function ipv4FixChecksum(buf: Buffer, off: number): void {
  buf.writeUInt16BE(0, off + 10);
  buf.writeUInt16BE(internetChecksum(buf, off, ipv4HeaderLength(buf, off)), off + 10);
}

export function ipv4ToString(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses a dotted quad; throws TunError('TUN_INVALID_OPTION') on anything else. */
export function ipv4FromString(s: string): number {
  const m = DOTTED_QUAD.exec(s.trim());
  if (m === null) throw new TunError('TUN_INVALID_OPTION', `not an IPv4 address: ${JSON.stringify(s)}`);
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    const octet = Number(part);
    // Leading zeros are refused: some parsers read them as octal.
    if (octet > 255 || (part.length > 1 && part.startsWith('0'))) {
      throw new TunError('TUN_INVALID_OPTION', `not an IPv4 address: ${JSON.stringify(s)}`);
    }
    n = n * 256 + octet;
  }
  return n >>> 0;
}

export interface Ipv4Cidr {
  /** The address as written (198.19.1.1 in 198.19.1.1/24). */
  address: number;
  prefix: number;
  mask: number;
  /** address & mask. */
  network: number;
  /** network | ~mask. */
  broadcast: number;
}

export function prefixToMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses "a.b.c.d/p" (a bare address is /32). */
export function parseIpv4Cidr(cidr: string): Ipv4Cidr {
  const slash = cidr.indexOf('/');
  const address = ipv4FromString(slash < 0 ? cidr : cidr.slice(0, slash));
  let prefix = 32;
  if (slash >= 0) {
    const p = cidr.slice(slash + 1).trim();
    prefix = /^\d{1,2}$/.test(p) ? Number(p) : NaN;
    if (!(prefix >= 0 && prefix <= 32)) {
      throw new TunError('TUN_INVALID_OPTION', `bad prefix length in CIDR ${JSON.stringify(cidr)}: expected /0 to /32`);
    }
  }
  const mask = prefixToMask(prefix);
  const network = (address & mask) >>> 0;
  return { address, prefix, mask, network, broadcast: (network | ~mask) >>> 0 };
}

/**
 * For untrusted text (config values, peers' registrations): "a.b.c.d/p" only, null when it is not
 * one. The same parser the TUN setup and the route table use, so nothing accepted here can fail
 * there later.
 */
export function tryParseIpv4Cidr(text: string): Ipv4Cidr | null {
  if (!text.includes('/')) return null;
  try {
    return parseIpv4Cidr(text);
  } catch (err) {
    if (err instanceof TunError) return null;
    throw err;
  }
}

/** Whether `inner` (an address with its prefix) lies wholly inside `outer`. */
export function cidrWithin(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return inner.prefix >= outer.prefix && ((inner.address & outer.mask) >>> 0) === outer.network;
}

/** Canonical "network/prefix" form, e.g. 198.19.1.1/24 -> 198.19.1.0/24. */
export function cidrNetworkString(c: Ipv4Cidr): string {
  return `${ipv4ToString(c.network)}/${c.prefix}`;
}

/** Whether addr (a uint32 or dotted quad) lies in cidr (parsed or a string). */
export function cidrContains(cidr: Ipv4Cidr | string, addr: number | string): boolean {
  const c = typeof cidr === 'string' ? parseIpv4Cidr(cidr) : cidr;
  const a = typeof addr === 'string' ? ipv4FromString(addr) : addr;
  return ((a & c.mask) >>> 0) === c.network;
}
