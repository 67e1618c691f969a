// Where the headers of an IPv4 or IPv6 packet end and its TCP/UDP payload begins, read from the
// packet itself into one reusable object. Segmentation trusts these lengths, not the virtio
// header's hdrLen (which the kernel fills with the skb's linear length, not the header length).
// IPv6 reads stay here, local to src/offload.

export const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

const IPV4_MIN_HEADER = 20;
const IPV6_HEADER = 40;
const TCP_MIN_HEADER = 20;
const UDP_HEADER = 8;
/** IPv4 flags/fragment offset: More Fragments and the offset bits. */
const IPV4_MF_OR_OFFSET = 0x3fff;
/** IPv6 extension headers that may sit between the fixed header and TCP/UDP of a GSO packet. */
const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_DEST_OPTS = 60;
/** At most this many extension headers are walked (a loop bound against crafted packets). */
const IPV6_MAX_EXT_HEADERS = 8;

export interface PacketLayout {
  version: number;
  /** IPPROTO_TCP or IPPROTO_UDP. */
  l4Proto: number;
  /** Offset of the TCP/UDP header from the start of the packet (IP header + options/extensions). */
  l4Off: number;
  /** Offset of the payload: l4Off + TCP header with options, or + 8 for UDP. */
  payloadOff: number;
  /** The packet's length as its IP header says (bytes past it in the buffer are ignored). */
  end: number;
}

export function newPacketLayout(): PacketLayout {
  return { version: 0, l4Proto: 0, l4Off: 0, payloadOff: 0, end: 0 };
}

/**
 * Fills `into` for the TCP or UDP packet buf[off, off+len); false when the packet is not one (or
 * is an IP fragment, or its lengths do not add up), with `into` then unspecified.
 */
export function readPacketLayout(buf: Buffer, off: number, len: number, into: PacketLayout): boolean {
  if (len < 1) return false;
  const version = buf[off]! >>> 4;
  into.version = version;
  if (version === 4) return readV4(buf, off, len, into);
  if (version === 6) return readV6(buf, off, len, into);
  return false;
}

function readV4(buf: Buffer, off: number, len: number, into: PacketLayout): boolean {
  if (len < IPV4_MIN_HEADER) return false;
  const ihl = (buf[off]! & 0x0f) << 2;
  const total = buf.readUInt16BE(off + 2);
  if (ihl < IPV4_MIN_HEADER || total < ihl || total > len) return false;
  if ((buf.readUInt16BE(off + 6) & IPV4_MF_OR_OFFSET) !== 0) return false;
  into.end = total;
  return readL4(buf, off, buf[off + 9]!, ihl, into);
}

function readV6(buf: Buffer, off: number, len: number, into: PacketLayout): boolean {
  if (len < IPV6_HEADER) return false;
  const end = IPV6_HEADER + buf.readUInt16BE(off + 4);
  if (end > len) return false;
  into.end = end;
  let next = buf[off + 6]!;
  let l4Off = IPV6_HEADER;
  for (let n = 0; n < IPV6_MAX_EXT_HEADERS; n++) {
    if (next !== IPV6_HOP_BY_HOP && next !== IPV6_ROUTING && next !== IPV6_DEST_OPTS) break;
    if (l4Off + 8 > end) return false;
    next = buf[off + l4Off]!;
    l4Off += (buf[off + l4Off + 1]! + 1) << 3;
  }
  return readL4(buf, off, next, l4Off, into);
}

function readL4(buf: Buffer, off: number, proto: number, l4Off: number, into: PacketLayout): boolean {
  into.l4Proto = proto;
  into.l4Off = l4Off;
  if (proto === IPPROTO_TCP) {
    if (l4Off + TCP_MIN_HEADER > into.end) return false;
    const thl = (buf[off + l4Off + 12]! >>> 4) << 2;
    if (thl < TCP_MIN_HEADER || l4Off + thl > into.end) return false;
    into.payloadOff = l4Off + thl;
    return true;
  }
  if (proto === IPPROTO_UDP) {
    if (l4Off + UDP_HEADER > into.end) return false;
    into.payloadOff = l4Off + UDP_HEADER;
    return true;
  }
  return false;
}
