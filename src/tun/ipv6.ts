// IPv6 helpers for the hot path: read header fields straight out of a packet buffer at an
// offset, with no allocation. An address is four unsigned 32-bit words, most significant
// first (2001:2::1 === [0x20010002, 0, 0, 1]); the hot path reads one word at a time
// (ipv6SrcWord / ipv6DstWord) and compares, so no address object exists per packet.
//
// Scopes the mesh handles on purpose (route-table.ts):
//   fe80::/10  link-local unicast: NDP and friends, meaningful on one link only, never carried;
//   ff02::/16  link-scope multicast (router solicitations, MLD, NDP): never carried;
//   ff00::/8   other multicast: not carried either (as IPv4 multicast), `unsupported`.
import { TunError } from './errors.js';

/** Fixed IPv6 header length (RFC 8200); extension headers follow it. */
export const IPV6_HEADER_LENGTH = 40;
/** IPv6's minimum link MTU (RFC 8200 §5): a device carrying IPv6 must take 1280-byte packets. */
export const IPV6_MIN_MTU = 1280;
/** Next-header value of ICMPv6. */
export const NEXT_HEADER_ICMPV6 = 58;

const SRC_OFFSET = 8;
const DST_OFFSET = 24;

/** Payload length (bytes after the fixed header). */
export function ipv6PayloadLength(buf: Buffer, off: number): number {
  return buf.readUInt16BE(off + 4);
}

export function ipv6NextHeader(buf: Buffer, off: number): number {
  return buf[off + 6]!;
}

/** Word i (0..3, most significant first) of the source address. */
export function ipv6SrcWord(buf: Buffer, off: number, i: number): number {
  return buf.readUInt32BE(off + SRC_OFFSET + 4 * i);
}

/** Word i (0..3, most significant first) of the destination address. */
export function ipv6DstWord(buf: Buffer, off: number, i: number): number {
  return buf.readUInt32BE(off + DST_OFFSET + 4 * i);
}

/** Byte offset of the source address inside the packet at `off`. */
export function ipv6SrcOffset(off: number): number {
  return off + SRC_OFFSET;
}

/** Byte offset of the destination address inside the packet at `off`. */
export function ipv6DstOffset(off: number): number {
  return off + DST_OFFSET;
}

/** fe80::/10, read at an address offset. */
export function isLinkLocalAt(buf: Buffer, addrOff: number): boolean {
  return buf[addrOff] === 0xfe && (buf[addrOff + 1]! & 0xc0) === 0x80;
}

/** ff00::/8, read at an address offset. */
export function isMulticastAt(buf: Buffer, addrOff: number): boolean {
  return buf[addrOff] === 0xff;
}

/** ff02::/16 (link-scope multicast: NDP, MLD, router solicitations), read at an address offset. */
export function isLinkScopeMulticastAt(buf: Buffer, addrOff: number): boolean {
  return buf[addrOff] === 0xff && (buf[addrOff + 1]! & 0x0f) === 0x02;
}

/** An IPv6 address: four uint32 words, most significant first. */
export type Ipv6Address = readonly [number, number, number, number];

export interface Ipv6Cidr {
  /** The address as written (2001:2:0:1::1 in 2001:2:0:1::1/64). */
  address: Ipv6Address;
  prefix: number;
  /** Per-word masks of the prefix. */
  mask: Ipv6Address;
  /** address & mask. */
  network: Ipv6Address;
}

function invalid(s: string, why = 'not an IPv6 address'): TunError {
  return new TunError('TUN_INVALID_OPTION', `${why}: ${JSON.stringify(s)}`);
}

const HEX_GROUP = /^[0-9a-f]{1,4}$/i;

/** Groups of "a:b:c" (empty string: none); throws on a group that is not 1..4 hex digits. */
function hexGroups(part: string, s: string): number[] {
  if (part === '') return [];
  return part.split(':').map((g) => {
    if (!HEX_GROUP.test(g)) throw invalid(s);
    return parseInt(g, 16);
  });
}

/**
 * Parses an IPv6 address in text form (RFC 4291 §2.2: full, `::`-compressed); throws
 * TunError('TUN_INVALID_OPTION') on anything else. Zone ids (`%eth0`) and the dotted-quad tail
 * (`::ffff:1.2.3.4`) are refused: a mesh address is neither scoped nor IPv4-mapped.
 */
export function ipv6FromString(s: string): Ipv6Address {
  const text = s.trim();
  if (text.length > 39 || text.includes('%') || text.includes('.')) throw invalid(s);
  const halves = text.split('::');
  if (halves.length > 2) throw invalid(s);
  let groups: number[];
  if (halves.length === 2) {
    const head = hexGroups(halves[0]!, s);
    const tail = hexGroups(halves[1]!, s);
    if (head.length + tail.length > 7) throw invalid(s);
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    groups = hexGroups(text, s);
    if (groups.length !== 8) throw invalid(s);
  }
  const w = (i: number): number => ((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0;
  return [w(0), w(1), w(2), w(3)];
}

/** RFC 5952 text: lower case, the longest run (2+) of zero groups compressed to `::`. */
export function ipv6ToString(a: Ipv6Address): string {
  const groups: number[] = [];
  for (const word of a) groups.push(word >>> 16, word & 0xffff);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (list: number[]): string => list.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** Reads an address out of a buffer (allocates: for logs and tests, not the hot path). */
export function ipv6At(buf: Buffer, addrOff: number): Ipv6Address {
  return [buf.readUInt32BE(addrOff), buf.readUInt32BE(addrOff + 4), buf.readUInt32BE(addrOff + 8), buf.readUInt32BE(addrOff + 12)];
}

/** Per-word masks of a prefix length 0..128. */
function ipv6PrefixMask(prefix: number): Ipv6Address {
  const word = (i: number): number => {
    const bits = Math.max(0, Math.min(32, prefix - 32 * i));
    return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  };
  return [word(0), word(1), word(2), word(3)];
}

function masked(a: Ipv6Address, m: Ipv6Address): Ipv6Address {
  return [(a[0] & m[0]) >>> 0, (a[1] & m[1]) >>> 0, (a[2] & m[2]) >>> 0, (a[3] & m[3]) >>> 0];
}

/** Parses "addr/p" (a bare address is /128). */
export function parseIpv6Cidr(cidr: string): Ipv6Cidr {
  const slash = cidr.indexOf('/');
  const address = ipv6FromString(slash < 0 ? cidr : cidr.slice(0, slash));
  let prefix = 128;
  if (slash >= 0) {
    const p = cidr.slice(slash + 1).trim();
    prefix = /^\d{1,3}$/.test(p) ? Number(p) : NaN;
    if (!(prefix >= 0 && prefix <= 128)) throw invalid(cidr, 'bad prefix length in IPv6 CIDR (expected /0 to /128)');
  }
  const mask = ipv6PrefixMask(prefix);
  return { address, prefix, mask, network: masked(address, mask) };
}

/** For untrusted text (config values, peers' claims): "addr/p" only, null when it is not one. */
export function tryParseIpv6Cidr(text: string): Ipv6Cidr | null {
  if (!text.includes('/')) return null;
  try {
    return parseIpv6Cidr(text);
  } catch (err) {
    if (err instanceof TunError) return null;
    throw err;
  }
}

export function ipv6Equal(a: Ipv6Address, b: Ipv6Address): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/** Whether address `a` lies in `c`. */
function ipv6CidrContains(c: Ipv6Cidr, a: Ipv6Address): boolean {
  return ipv6Equal(masked(a, c.mask), c.network);
}

/** The 32-bit word at buf[off] (big-endian), read byte by byte: cheaper than readUInt32BE's checks. */
export function wordAt(buf: Buffer, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

/** Whether the address at buf[addrOff] lies in `c`, with no allocation. */
export function ipv6CidrContainsAt(c: Ipv6Cidr, buf: Buffer, addrOff: number): boolean {
  for (let i = 0; i < 4; i++) {
    const mask = c.mask[i]!;
    if (mask === 0) return true; // the rest of the prefix is zero bits
    if (((wordAt(buf, addrOff + 4 * i) & mask) >>> 0) !== c.network[i]) return false;
  }
  return true;
}

/** Whether the address at buf[addrOff] equals `a`, with no allocation. */
export function ipv6EqualAt(a: Ipv6Address, buf: Buffer, addrOff: number): boolean {
  return wordAt(buf, addrOff + 12) === a[3] && wordAt(buf, addrOff) === a[0] && wordAt(buf, addrOff + 4) === a[1] && wordAt(buf, addrOff + 8) === a[2];
}

/** Whether `inner` (an address with its prefix) lies wholly inside `outer`. */
export function ipv6CidrWithin(outer: Ipv6Cidr, inner: Ipv6Cidr): boolean {
  return inner.prefix >= outer.prefix && ipv6CidrContains(outer, inner.address);
}

/** Canonical "network/prefix", e.g. 2001:2:0:1::1/64 -> 2001:2:0:1::/64. */
export function ipv6NetworkString(c: Ipv6Cidr): string {
  return `${ipv6ToString(c.network)}/${c.prefix}`;
}

/** Canonical "address/prefix", e.g. 2001:0002:0:1:0:0:0:1/64 -> 2001:2:0:1::1/64. */
export function ipv6CidrString(c: Ipv6Cidr): string {
  return `${ipv6ToString(c.address)}/${c.prefix}`;
}

/**
 * Why an address cannot be a mesh node's address, or undefined: the unspecified and loopback
 * addresses, link-local and multicast are scoped or special and are never routed by the mesh.
 */
export function unusableNodeAddressReason(a: Ipv6Address): string | undefined {
  if (a[0] === 0 && a[1] === 0 && a[2] === 0 && (a[3] === 0 || a[3] === 1)) return 'the unspecified or loopback address';
  if ((a[0] >>> 22) === 0x3fa) return 'a link-local address (fe80::/10)';
  if ((a[0] >>> 24) === 0xff) return 'a multicast address (ff00::/8)';
  return undefined;
}
