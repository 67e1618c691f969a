import { expect } from 'chai';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VNET_HDR_LEN,
  VnetSegmenter,
  writeVnetHeader,
  type VnetHeader,
} from '../../src/offload/index.js';
import { naiveOnesSum } from '../helpers/checksum.js';

function tcpVerifies(p: Buffer): boolean {
  const ph = Buffer.alloc(12);
  p.copy(ph, 0, 12, 20);
  ph[9] = 6;
  ph.writeUInt16BE(p.length - 20, 10);
  return naiveOnesSum(ph, p.subarray(20)) === 0xffff && naiveOnesSum(p.subarray(0, 20)) === 0xffff;
}

/** virtio header + IPv4 + TCP (no options) + payload, as a TUN read hands it over. */
function tunRead(payload: Buffer, hdr: VnetHeader): Buffer {
  const b = Buffer.alloc(VNET_HDR_LEN + 40 + payload.length);
  writeVnetHeader(b, 0, hdr);
  const p = b.subarray(VNET_HDR_LEN);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p.writeUInt16BE(0x1234, 4);
  p[8] = 64;
  p[9] = 6;
  p.writeUInt32BE(0xc6130101, 12);
  p.writeUInt32BE(0xc6130202, 16);
  p.writeUInt32BE(1000, 24);
  p[32] = 0x50;
  p[33] = 0x18;
  payload.copy(p, 40);
  return b;
}

const header = (gsoType: number, gsoSize: number): VnetHeader => ({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType, hdrLen: 40, gsoSize, csumStart: 20, csumOffset: 16 });

describe('VnetSegmenter (the send path\'s seam: virtio header + packet in, MTU-sized packets out)', function () {
  const seg = new VnetSegmenter();
  const payload = Buffer.from(Array.from({ length: 3001 }, (_, i) => (i * 7) & 0xff));

  it('cuts a TUN read to the MTU it is given and hands each packet to the sink in order', function () {
    const got: Buffer[] = [];
    const sink = { packet: (b: Buffer, o: number, l: number): void => void got.push(Buffer.from(b.subarray(o, o + l))) };
    const read = tunRead(payload, header(VIRTIO_NET_HDR_GSO_TCPV4, 1400));
    expect(seg.segment(read, 0, read.length, 576, sink)).to.equal(6); // MSS 536 for a 576-byte MTU
    expect(got.map((p) => p.length)).to.deep.equal([576, 576, 576, 576, 576, 40 + 3001 - 5 * 536]);
    expect(got.every(tcpVerifies)).to.equal(true);
    expect(got.map((p) => p.readUInt32BE(24))).to.deep.equal([0, 1, 2, 3, 4, 5].map((i) => 1000 + i * 536));
    expect(Buffer.concat(got.map((p) => p.subarray(40))).equals(payload)).to.equal(true);
  });

  it('returns -1 and emits nothing for a malformed read, saying why', function () {
    let emitted = 0;
    const sink = { packet: (): void => void emitted++ };
    const read = tunRead(payload, header(VIRTIO_NET_HDR_GSO_TCPV6, 1400));
    expect(seg.segment(read, 0, read.length, 1500, sink)).to.equal(-1);
    expect(seg.lastFailure).to.equal('malformed');
    expect(seg.segment(read, 0, 9, 1500, sink)).to.equal(-1);
    expect(seg.lastFailure).to.equal('short');
    expect(emitted).to.equal(0);
  });

  it('finishes the checksum of a plain packet in place and clears NEEDS_CSUM in its header', function () {
    const read = tunRead(payload.subarray(0, 1000), header(VIRTIO_NET_HDR_GSO_NONE, 0));
    const p = read.subarray(VNET_HDR_LEN);
    // The kernel's partial checksum: the folded pseudo-header sum.
    const ph = Buffer.alloc(12);
    p.copy(ph, 0, 12, 20);
    ph[9] = 6;
    ph.writeUInt16BE(p.length - 20, 10);
    p.writeUInt16BE(naiveOnesSum(ph), 36);
    p.writeUInt16BE(0xffff - naiveOnesSum(p.subarray(0, 20)), 10); // IP header checksum, as the kernel wrote it
    expect(seg.completeChecksum(read, 0, read.length)).to.equal(true);
    expect(tcpVerifies(p)).to.equal(true);
    expect(read[0]! & VIRTIO_NET_HDR_F_NEEDS_CSUM).to.equal(0);
  });
});
