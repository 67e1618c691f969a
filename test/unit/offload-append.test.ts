// The send path's offload step on real header bytes: what each kind of transport is handed for a
// packet read from a TUN with offloads, and what the offload switch asks of the kernel.
import { expect } from 'chai';
import { appendWithHeader } from '../../src/dataplane/offload-append.js';
import type { DataPlaneState, DropReason, PeerRoute } from '../../src/dataplane/contract.js';
import type { PeerTransport } from '../../src/dataplane/transport.js';
import { wantedOffloads } from '../../src/offload/offload-mode.js';
import { softwareSegmenter } from '../../src/offload/software-gso.js';
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

  it('never hands a v1 channel a super-packet or an unfinished checksum (the software segmenter seam)', function () {
    if (softwareSegmenter !== null) this.skip(); // plugged in: segment.ts's own tests cover it
    const t = new Recorder(1);
    const big = read(60000, VNET_HDR_F_NEEDS_CSUM, VNET_GSO_TCPV4);
    expect(appendWithHeader(t, big, 0, big.length, MTU)).to.equal('oversized');
    const partial = read(100, VNET_HDR_F_NEEDS_CSUM, 0);
    expect(appendWithHeader(t, partial, 0, partial.length, MTU)).to.equal('unsupported');
    expect(t.got).to.deep.equal([]);
  });
});

describe('offload switch', () => {
  const peer = (id: string, frames: 1 | 2): PeerRoute => ({
    id,
    url: 'https://198.18.0.12:4567',
    addressCidr: '198.19.0.2/24',
    networkCidr: '198.19.0.0/16',
    path: 'fast',
    scope: 'local',
    session: null,
    frames,
  });
  const state = (peers: PeerRoute[]): DataPlaneState => ({ selfId: 'a', addressCidr: '198.19.0.1/24', networkCidr: '198.19.0.0/16', enableBroadcast: false, mtu: MTU, peers });
  const all = TUN_F_CSUM | TUN_F_TSO4;

  it('keeps the accepted offloads while every peer takes v2 frames (and with no peers)', () => {
    expect(wantedOffloads(state([]), all, false)).to.equal(all);
    expect(wantedOffloads(state([peer('b', 2), peer('c', 2)]), all, false)).to.equal(all);
    expect(offloadNames(all)).to.deep.equal(['csum', 'tso4']);
  });

  it('turns them off for a peer that needs MTU-sized packets, unless software segmentation exists', () => {
    expect(wantedOffloads(state([peer('b', 2), peer('c', 1)]), all, false)).to.equal(0);
    expect(wantedOffloads(state([peer('b', 2), { ...peer('c', 1), path: 'legacy' }]), all, true)).to.equal(all);
  });
});
