// `npm run bench -- --segment`: the software segmentation of src/offload on this machine, no
// namespaces, no root. 64 KB TCP super-packets (IPv4 and IPv6, with the 12 bytes of TCP
// timestamps every Linux stream carries) cut into packets of at most `packetLen` bytes, 64 KB USO
// super-packets, and the checksum finishing of plain MTU-sized packets. Each figure is the
// median of `rounds` timed rounds of about `roundMs` each, after a warm-up (V8 optimizes first).
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  newSegmentTarget,
  newVnetHeader,
  resetSegmentTarget,
  segmentSuperPacket,
  type VnetHeader,
} from '../offload/index.js';
import { fmt, median, renderTable } from './stats.js';

export interface SegmentBenchOptions {
  /** Largest packet out (default 1400: the bytes of a segment, headers included). */
  packetLen: number;
  rounds: number;
  roundMs: number;
}

export interface SegmentBenchRow {
  case: string;
  /** Bytes of each input packet. */
  inputBytes: number;
  /** Packets each input is cut into. */
  segments: number;
  /** Input bytes per second, as Gbit/s (median of the rounds). */
  gbitPerSecond: number;
  /** Output packets per second (median). */
  packetsPerSecond: number;
}

export const DEFAULT_SEGMENT_BENCH: SegmentBenchOptions = { packetLen: 1400, rounds: 7, roundMs: 300 };

const TCP_TIMESTAMPS = 12;

interface Case {
  name: string;
  packet: Buffer;
  hdr: VnetHeader;
}

/** A super-packet of `total` bytes: IP header, TCP (with timestamps) or UDP header, random payload. */
function superPacket(v6: boolean, tcp: boolean, total: number, gsoSize: number): Case {
  const ip = v6 ? 40 : 20;
  const l4 = tcp ? 20 + TCP_TIMESTAMPS : 8;
  const pkt = Buffer.alloc(total);
  for (let i = ip + l4; i < total; i++) pkt[i] = (i * 131) & 0xff;
  const proto = tcp ? 6 : 17;
  if (v6) {
    pkt[0] = 0x60;
    pkt.writeUInt16BE(total - 40, 4);
    pkt[6] = proto;
    pkt[7] = 64;
    Buffer.from('20010002000000000000000000000001', 'hex').copy(pkt, 8);
    Buffer.from('20010002000000000000000000000002', 'hex').copy(pkt, 24);
  } else {
    pkt[0] = 0x45;
    pkt.writeUInt16BE(total, 2);
    pkt.writeUInt16BE(0x4000, 6);
    pkt[8] = 64;
    pkt[9] = proto;
    pkt.writeUInt32BE(0xc6130101, 12);
    pkt.writeUInt32BE(0xc6130102, 16);
  }
  pkt.writeUInt32BE(0xd0005201, ip);
  if (tcp) {
    pkt.writeUInt32BE(0x12345678, ip + 4);
    pkt[ip + 12] = (l4 / 4) << 4;
    pkt[ip + 13] = 0x18; // ACK PSH
    pkt.writeUInt16BE(0x0101, ip + 20); // NOP NOP, timestamp option
    pkt.writeUInt16BE(0x080a, ip + 22);
  } else pkt.writeUInt16BE(total - ip, ip + 4);
  const hdr = newVnetHeader();
  hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr.gsoType = !tcp ? VIRTIO_NET_HDR_GSO_UDP_L4 : v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
  hdr.gsoSize = gsoSize;
  hdr.csumStart = ip;
  hdr.csumOffset = tcp ? 16 : 6;
  const kind = `${tcp ? 'TCP' : 'UDP'}/IPv${v6 ? 6 : 4}`;
  return { name: gsoSize === 0 ? `${kind} ${total} B, checksum only` : `${kind} ${total} B -> ${ip + l4 + gsoSize} B`, packet: pkt, hdr };
}

function cases(packetLen: number): Case[] {
  const tcp4 = superPacket(false, true, 65535, packetLen - 52);
  const tcp6 = superPacket(true, true, 65535, packetLen - 72);
  const udp4 = superPacket(false, false, 65535, packetLen - 28);
  const plain = superPacket(false, true, packetLen, 0);
  plain.hdr.gsoType = VIRTIO_NET_HDR_GSO_NONE;
  return [tcp4, tcp6, udp4, plain];
}

function measure(c: Case, o: SegmentBenchOptions): SegmentBenchRow {
  const target = newSegmentTarget(2 * 65536 + 64 * 128, 256);
  const once = (): number => {
    resetSegmentTarget(target);
    const n = segmentSuperPacket(c.hdr, c.packet, 0, c.packet.length, target);
    if (typeof n !== 'number') throw new Error(`segment bench: ${c.name}: ${n}`);
    return n;
  };
  const segments = once();
  const warmUntil = performance.now() + o.roundMs;
  while (performance.now() < warmUntil) once();
  const rates: number[] = [];
  for (let r = 0; r < o.rounds; r++) {
    let done = 0;
    const start = performance.now();
    let elapsed: number;
    do {
      for (let k = 0; k < 32; k++) once();
      done += 32;
      elapsed = performance.now() - start;
    } while (elapsed < o.roundMs);
    rates.push(done / (elapsed / 1000));
  }
  const perSecond = median(rates);
  return { case: c.name, inputBytes: c.packet.length, segments, gbitPerSecond: (perSecond * c.packet.length * 8) / 1e9, packetsPerSecond: perSecond * segments };
}

/** Runs every case; `progress` is told which. Synchronous, a few seconds with the defaults. */
export function runSegmentBench(o: SegmentBenchOptions = DEFAULT_SEGMENT_BENCH, progress: (msg: string) => void = () => undefined): SegmentBenchRow[] {
  return cases(o.packetLen).map((c) => {
    progress(`segment: ${c.name}`);
    return measure(c, o);
  });
}

export function segmentTable(rows: readonly SegmentBenchRow[]): string {
  return renderTable([
    ['software segmentation (one core)', 'segments', 'Gbit/s in', 'Mpps out'],
    ...rows.map((r) => [r.case, String(r.segments), fmt(r.gbitPerSecond, 2), fmt(r.packetsPerSecond / 1e6, 2)]),
  ]);
}
