// Software GRO: consecutive TCP segments of one flow that arrive as plain packets (a v1 fast
// channel, whose sender had no TUN offloads, or the original's JSON path) are merged into one
// super-packet before they are written to a TUN with offloads, as the kernel's GRO merges them
// off a NIC: the receiving stack then handles one packet of up to 64 KB instead of ~45.
//
//   1. candidate  IPv4 without options or fragmentation, or IPv6 without extension headers,
//                 carrying TCP with a payload and only ACK (or ACK|PSH) set. Anything else closes
//                 the open group and is copied through as a plain packet.
//   2. match      same addresses, ports, TCP header length and option bytes, ACK number and
//                 window; IPv4: same TOS, TTL and DF, id = the previous id + 1; IPv6: same
//                 traffic class, flow label and hop limit. Its seq continues the group's, the
//                 previous segment was full-sized (the group's first) without PSH, it is no
//                 larger, and the group stays within MAX_GRO_SEGMENTS and MAX_IP_PACKET.
//   3. merge      its payload is appended behind the group's (the only copy).
//   4. close      a group of one is written as it came, behind an empty virtio_net_hdr. A group
//                 of more gets its IP length (and IPv4 header checksum) updated, the last
//                 segment's PSH, the partial pseudo-header sum in the TCP checksum field, and a
//                 header GSO_TCPV4/6 with gso_size = the first payload, NEEDS_CSUM at the TCP
//                 checksum: the kernel segments it again where it has to, as TSO would.
// Segment checksums are not verified before merging: the packets crossed an authenticated TLS
// channel (or the JSON path's signed requests) from a sender whose kernel computed them, and the
// merged checksum is the kernel's to finish. Every candidate is copied once into the output arena
// (a super-packet needs one contiguous buffer); nothing is allocated per packet.
import { ipv4FixChecksum } from '../tun/ipv4.js';
import { MAX_GRO_SEGMENTS, MAX_IP_PACKET, VNET_GSO_TCPV4, VNET_GSO_TCPV6, VNET_HDR_F_NEEDS_CSUM, VNET_HDR_LEN } from '../tun/vnet.js';
import { fold, pseudoSumV4, pseudoSumV6 } from './checksum.js';
import { IPPROTO_TCP } from './layout.js';
import { newVnetHeader, writeVnetHeader } from './vnet-header.js';

/** Output arena: a few super-packets and the plain packets between them, written per chunk. */
const ARENA_BYTES = 512 * 1024;
const IPV4_HEADER = 20;
const IPV6_HEADER = 40;
const TCP_ACK = 0x10;
const TCP_PSH = 0x08;
const IPV4_DF = 0x40;
/** Where the TCP checksum field sits in the TCP header. */
const TCP_CHECKSUM_OFFSET = 16;

/** Where merged and plain packets go: `withHeader` ranges (a virtio_net_hdr, then the packet). */
export interface CoalesceSink {
  add(buf: Buffer, off: number, len: number, withHeader: true): void;
  /** Writes what was added; the arena is reused afterwards. */
  write(): unknown;
}

/** The open group: the first segment's headers, then the payload of every segment, in `arena`. */
interface Group {
  /** Offset of the group's virtio_net_hdr in the arena; the packet starts VNET_HDR_LEN later. */
  start: number;
  ipHeader: number;
  tcpHeader: number;
  /** Bytes of IP packet so far (headers once, every payload). */
  ipLen: number;
  segments: number;
  gsoSize: number;
  nextSeq: number;
  lastId: number;
  /** The last segment was shorter than gsoSize or had PSH: nothing may follow it. */
  closed: boolean;
  pshLast: boolean;
}

export class Coalescer {
  private readonly arena = Buffer.allocUnsafeSlow(ARENA_BYTES);
  /** The header of a merged super-packet, filled per group. */
  private readonly hdr = newVnetHeader();
  private cursor = 0;
  /** Whether `g` holds an open group. */
  private grouping = false;
  private readonly g: Group = { start: 0, ipHeader: 0, tcpHeader: 0, ipLen: 0, segments: 0, gsoSize: 0, nextSeq: 0, lastId: 0, closed: false, pshLast: false };
  /** Counts since the last takeCounts(): segments merged into super-packets, and those super-packets. */
  merged = 0;
  superPackets = 0;

  constructor(private readonly sink: CoalesceSink) {}

  /** The IP packet buf[off, off+len): merged into the open group, or the start of a new one. */
  add(buf: Buffer, off: number, len: number): void {
    const tcp = tcpCandidate(buf, off, len);
    if (tcp > 0 && this.grouping && this.extends(buf, off, len, tcp)) return this.append(buf, off, len, tcp);
    this.closeGroup();
    if (this.cursor + VNET_HDR_LEN + len > ARENA_BYTES) this.flush();
    const start = this.cursor;
    this.arena.fill(0, start, start + VNET_HDR_LEN);
    buf.copy(this.arena, start + VNET_HDR_LEN, off, off + len);
    this.cursor = start + VNET_HDR_LEN + len;
    if (tcp > 0) this.open(start, buf, off, len, tcp);
    else this.sink.add(this.arena, start, VNET_HDR_LEN + len, true);
  }

  /** Closes the open group and writes everything out (once per event-loop turn: receive.ts). */
  flush(): void {
    this.closeGroup();
    this.sink.write();
    this.cursor = 0;
  }

  private open(start: number, buf: Buffer, off: number, len: number, tcp: number): void {
    const g = this.g;
    const thl = (buf[off + tcp + 12]! >>> 4) << 2;
    g.start = start;
    g.ipHeader = tcp;
    g.tcpHeader = thl;
    g.ipLen = len;
    g.segments = 1;
    g.gsoSize = len - tcp - thl;
    g.nextSeq = (buf.readUInt32BE(off + tcp + 4) + g.gsoSize) >>> 0;
    g.lastId = buf[off]! >>> 4 === 4 ? buf.readUInt16BE(off + 4) : 0;
    g.pshLast = (buf[off + tcp + 13]! & TCP_PSH) !== 0;
    g.closed = g.pshLast;
    this.grouping = true;
  }

  /** Step 2: whether the candidate continues the open group. */
  private extends(buf: Buffer, off: number, len: number, tcp: number): boolean {
    const g = this.g;
    const thl = (buf[off + tcp + 12]! >>> 4) << 2;
    const payload = len - tcp - thl;
    if (g.closed || tcp !== g.ipHeader || thl !== g.tcpHeader || payload > g.gsoSize) return false;
    if (g.segments >= MAX_GRO_SEGMENTS || g.ipLen + payload > MAX_IP_PACKET) return false;
    if (this.cursor + payload > ARENA_BYTES) return false;
    if (buf.readUInt32BE(off + tcp + 4) !== g.nextSeq) return false;
    const first = g.start + VNET_HDR_LEN;
    const a = this.arena;
    if (tcp === IPV4_HEADER) {
      if (buf.readUInt16BE(off + 4) !== ((g.lastId + 1) & 0xffff)) return false;
      if (buf[off + 1] !== a[first + 1] || buf[off + 8] !== a[first + 8] || (buf[off + 6]! & IPV4_DF) !== (a[first + 6]! & IPV4_DF)) return false;
      if (buf.compare(a, first + 12, first + 20, off + 12, off + 20) !== 0) return false;
    } else {
      // Version, traffic class, flow label; hop limit; addresses.
      if (buf.compare(a, first, first + 4, off, off + 4) !== 0 || buf[off + 7] !== a[first + 7]) return false;
      if (buf.compare(a, first + 8, first + 40, off + 8, off + 40) !== 0) return false;
    }
    // Ports, then ACK number, then window: the same for every segment of a burst.
    const t = first + tcp;
    if (buf.compare(a, t, t + 4, off + tcp, off + tcp + 4) !== 0 || buf.compare(a, t + 8, t + 12, off + tcp + 8, off + tcp + 12) !== 0) return false;
    if (buf.compare(a, t + 14, t + 16, off + tcp + 14, off + tcp + 16) !== 0) return false;
    return thl === 20 || buf.compare(a, t + 20, t + thl, off + tcp + 20, off + tcp + thl) === 0;
  }

  /** Step 3. */
  private append(buf: Buffer, off: number, len: number, tcp: number): void {
    const g = this.g;
    const from = off + tcp + g.tcpHeader;
    const payload = off + len - from;
    buf.copy(this.arena, this.cursor, from, off + len);
    this.cursor += payload;
    g.ipLen += payload;
    g.segments++;
    g.nextSeq = (g.nextSeq + payload) >>> 0;
    if (tcp === IPV4_HEADER) g.lastId = buf.readUInt16BE(off + 4);
    g.pshLast = (buf[off + tcp + 13]! & TCP_PSH) !== 0;
    g.closed = g.pshLast || payload < g.gsoSize;
  }

  /** Step 4. */
  private closeGroup(): void {
    if (!this.grouping) return;
    this.grouping = false;
    const g = this.g;
    const a = this.arena;
    const ip = g.start + VNET_HDR_LEN;
    if (g.segments > 1) {
      const l4Len = g.ipLen - g.ipHeader;
      const v4 = g.ipHeader === IPV4_HEADER;
      if (v4) {
        a.writeUInt16BE(g.ipLen, ip + 2);
        ipv4FixChecksum(a, ip);
      } else a.writeUInt16BE(l4Len, ip + 4);
      const tcp = ip + g.ipHeader;
      if (g.pshLast) a[tcp + 13] = a[tcp + 13]! | TCP_PSH;
      const pseudo = v4 ? pseudoSumV4(a, ip, IPPROTO_TCP, l4Len) : pseudoSumV6(a, ip, IPPROTO_TCP, l4Len);
      a.writeUInt16BE(fold(pseudo), tcp + TCP_CHECKSUM_OFFSET);
      const h = this.hdr;
      h.flags = VNET_HDR_F_NEEDS_CSUM;
      h.gsoType = v4 ? VNET_GSO_TCPV4 : VNET_GSO_TCPV6;
      h.hdrLen = g.ipHeader + g.tcpHeader;
      h.gsoSize = g.gsoSize;
      h.csumStart = g.ipHeader;
      h.csumOffset = TCP_CHECKSUM_OFFSET;
      writeVnetHeader(a, g.start, h);
      this.merged += g.segments;
      this.superPackets++;
    }
    this.sink.add(a, g.start, VNET_HDR_LEN + g.ipLen, true);
  }
}

/**
 * Step 1: the offset of the TCP header when buf[off, off+len) may be merged (IPv4 without options
 * or fragments, IPv6 without extension headers, ACK or ACK|PSH only, a payload); else 0.
 */
function tcpCandidate(buf: Buffer, off: number, len: number): number {
  const version = buf[off]! >>> 4;
  let tcp: number;
  if (version === 4) {
    if (len < IPV4_HEADER + 20 || buf[off] !== 0x45 || buf[off + 9] !== IPPROTO_TCP) return 0;
    if (buf.readUInt16BE(off + 2) !== len || (buf.readUInt16BE(off + 6) & 0x3fff) !== 0) return 0;
    tcp = IPV4_HEADER;
  } else if (version === 6) {
    if (len < IPV6_HEADER + 20 || buf[off + 6] !== IPPROTO_TCP || buf.readUInt16BE(off + 4) !== len - IPV6_HEADER) return 0;
    tcp = IPV6_HEADER;
  } else return 0;
  const thl = (buf[off + tcp + 12]! >>> 4) << 2;
  const flags = buf[off + tcp + 13]!;
  if (thl < 20 || tcp + thl >= len || (flags & ~TCP_PSH) !== TCP_ACK) return 0;
  return tcp;
}
