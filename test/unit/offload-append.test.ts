// The send path's offload step on real header bytes: what each kind of transport is handed for a
// packet read from a TUN with offloads, and the offload names status shows.
import { expect } from 'chai';
import { appendWithHeader } from '../../src/dataplane/offload-append.js';
import type { DropReason } from '../../src/dataplane/drop-reasons.js';
import type { PeerTransport } from '../../src/dataplane/transport.js';
import { naiveOnesSum } from '../helpers/checksum.js';
import { TUN_F_CSUM, TUN_F_TSO4, VNET_GSO_TCPV4, VNET_HDR_F_NEEDS_CSUM, VNET_HDR_LEN, offloadNames } from '../../src/tun/vnet.js';

/** A transport that keeps copies of what it is handed (the transport is not under test here). */
class Recorder implements PeerTransport {
  readonly path = 'fast' as const;
  epoch = -1;
  readonly got: Buffer[] = [];
  constructor(readonly frames: 1 | 2) {}
  append(buf: Buffer, off: number, len: number): DropReason | null {
    this.got.push(Buffer.from(buf.subarray(off, off + len)));
    return null;
  }
  flush(): void {}
  update(): void {}
  close(): void {}
}

/** A virtio_net_hdr + an IPv4 packet of `len` bytes (contents only need to be recognisable). */
function read(len: number, flags: number, gsoType: number): Buffer {
  const b = Buffer.alloc(VNET_HDR_LEN + len, 0xab);
  b.fill(0, 0, VNET_HDR_LEN);
  b[0] = flags;
  b[1] = gsoType;
  b.writeUInt16LE(1448, 4);
  b[VNET_HDR_LEN] = 0x45;
  return b;
}

const MTU = 1500;

describe('offload step of the send path', () => {
  it('hands a v2 channel the header and the whole super-packet', () => {
    const t = new Recorder(2);
    const pkt = read(60000, VNET_HDR_F_NEEDS_CSUM, VNET_GSO_TCPV4);
    expect(appendWithHeader(t, pkt, 0, pkt.length, MTU)).to.equal(null);
    expect(t.got).to.have.length(1);
    expect(t.got[0]!.equals(pkt)).to.equal(true);
  });

  it('hands a v1 channel a plain packet without its header', () => {
    const t = new Recorder(1);
    const pkt = read(84, 0, 0);
    expect(appendWithHeader(t, pkt, 0, pkt.length, MTU)).to.equal(null);
    expect(t.got[0]!.equals(pkt.subarray(VNET_HDR_LEN))).to.equal(true);
  });

  it('cuts a super-packet for a v1 channel into MTU-sized TCP segments, checksums finished', () => {
    const t = new Recorder(1);
    const payload = 60000;
    const big = tcpSuperPacket(payload, 1448);
    expect(appendWithHeader(t, big, 0, big.length, MTU)).to.equal(null);
    expect(t.got).to.have.length(Math.ceil(payload / 1448));
    let carried = 0;
    t.got.forEach((seg, i) => {
      expect(seg.length).to.be.at.most(MTU);
      expect(seg.readUInt16BE(2)).to.equal(seg.length); // IPv4 total length
      expect(seg.readUInt16BE(4)).to.equal((0x1234 + i) & 0xffff); // IP id + i, as the kernel's TSO
      expect(naiveOnesSum(seg.subarray(0, 20))).to.equal(0xffff); // header checksum verifies
      expect(seg.readUInt32BE(24)).to.equal((1000 + carried) >>> 0); // TCP sequence number advances
      expect(tcpChecksumVerifies(seg)).to.equal(true);
      carried += seg.length - 40;
    });
    expect(carried).to.equal(payload);
  });
});

/** A TSO super-packet as the TUN reads it: virtio_net_hdr (TCPV4, NEEDS_CSUM) + IPv4 + TCP + payload. */
function tcpSuperPacket(payload: number, mss: number): Buffer {
  const b = Buffer.alloc(VNET_HDR_LEN + 40 + payload);
  b[0] = VNET_HDR_F_NEEDS_CSUM;
  b[1] = VNET_GSO_TCPV4;
  b.writeUInt16LE(40, 2); // hdr_len
  b.writeUInt16LE(mss, 4); // gso_size
  b.writeUInt16LE(20, 6); // csum_start: the TCP header
  b.writeUInt16LE(16, 8); // csum_offset: TCP checksum field
  const ip = VNET_HDR_LEN;
  b[ip] = 0x45;
  b.writeUInt16BE(40 + payload > 0xffff ? 0 : 40 + payload, ip + 2);
  b.writeUInt16BE(0x1234, ip + 4);
  b[ip + 8] = 64;
  b[ip + 9] = 6;
  b.set([198, 19, 0, 1, 198, 19, 0, 2], ip + 12);
  const tcp = ip + 20;
  b.writeUInt16BE(40000, tcp);
  b.writeUInt16BE(5201, tcp + 2);
  b.writeUInt32BE(1000, tcp + 4);
  b[tcp + 12] = 5 << 4;
  b[tcp + 13] = 0x18; // PSH|ACK
  b.writeUInt16BE(65535, tcp + 14);
  for (let i = 0; i < payload; i++) b[tcp + 20 + i] = i & 0xff;
  return b;
}

/** The TCP checksum over the IPv4 pseudo-header and the segment sums to 0xffff when it is right. */
function tcpChecksumVerifies(seg: Buffer): boolean {
  const tcpLen = seg.length - 20;
  const protoAndLength = Buffer.from([0, 6, tcpLen >>> 8, tcpLen & 0xff]);
  return naiveOnesSum(seg.subarray(12, 20), protoAndLength, seg.subarray(20)) === 0xffff;
}

describe('offload names', () => {
  it('names the TUN_F_* bits for logs and status, in bit order', () => {
    expect(offloadNames(TUN_F_CSUM | TUN_F_TSO4)).to.deep.equal(['csum', 'tso4']);
    expect(offloadNames(0)).to.deep.equal([]);
  });
});
