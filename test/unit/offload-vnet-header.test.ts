import { expect } from 'chai';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  VNET_HDR_LEN,
  clearVnetHeader,
  gsoKind,
  newVnetHeader,
  readVnetHeader,
  writeVnetHeader,
} from '../../src/offload/index.js';

describe('virtio-net header', function () {
  it('is the 10-byte struct virtio_net_hdr with the kernel constants', function () {
    expect(VNET_HDR_LEN).to.equal(10);
    expect(VIRTIO_NET_HDR_F_NEEDS_CSUM).to.equal(1);
    expect(VIRTIO_NET_HDR_GSO_TCPV4).to.equal(1);
    expect(VIRTIO_NET_HDR_GSO_UDP_L4).to.equal(5);
    expect(VIRTIO_NET_HDR_GSO_ECN).to.equal(0x80);
  });

  it('reads the little-endian fields a TUN writes, at an offset, into the same object', function () {
    // flags NEEDS_CSUM, TCPV4|ECN, hdr_len 52, gso_size 1448, csum_start 20, csum_offset 16
    const buf = Buffer.from('ff' + '01' + '81' + '3400' + 'a805' + '1400' + '1000', 'hex');
    const hdr = newVnetHeader();
    expect(readVnetHeader(buf, 1, hdr)).to.equal(hdr);
    expect(hdr).to.deep.equal({ flags: 1, gsoType: 0x81, hdrLen: 52, gsoSize: 1448, csumStart: 20, csumOffset: 16 });
    expect(gsoKind(hdr)).to.equal(VIRTIO_NET_HDR_GSO_TCPV4);
  });

  it('writes what it reads, and a cleared header is ten zero bytes', function () {
    const hdr = { flags: 1, gsoType: 5, hdrLen: 48, gsoSize: 1200, csumStart: 40, csumOffset: 6 };
    const buf = Buffer.alloc(12, 0xee);
    expect(writeVnetHeader(buf, 2, hdr)).to.equal(VNET_HDR_LEN);
    expect(buf.subarray(2).toString('hex')).to.equal('01053000b00428000600');
    expect(readVnetHeader(buf, 2, newVnetHeader())).to.deep.equal(hdr);
    writeVnetHeader(buf, 2, clearVnetHeader(hdr));
    expect(buf.subarray(2).equals(Buffer.alloc(10))).to.equal(true);
    expect(buf[0]).to.equal(0xee);
  });
});
