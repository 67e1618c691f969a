import { expect } from 'chai';
import { Registry as PromRegistry } from 'prom-client';
import { checkInbound } from '../../src/dataplane/checks.js';
import type { DataPlaneSettings, DataPlaneState, PeerRoute } from '../../src/dataplane/contract.js';
import { decodeLegacyPacket, encodeLegacyPacket, ETHERTYPE_IPV6 } from '../../src/dataplane/legacy/packet.js';
import { LegacySender } from '../../src/dataplane/legacy/sender.js';
import { RouteTable, type Ipv6Route } from '../../src/dataplane/route-table.js';
import { peerEndpoint } from '../../src/dataplane/transport.js';
import { peerTlsOptions } from '../../src/security/peer-tls.js';
import { SessionSigner } from '../../src/dataplane/session-token.js';
import { DataPlaneError } from '../../src/dataplane/errors.js';
import { naiveOnesSum } from '../helpers/checksum.js';
import { icmpv6Checksum, PacketTooBig, TOO_BIG_PER_SECOND } from '../../src/dataplane/packet-too-big.js';
import { ipv6At, ipv6ToString } from '../../src/tun/ipv6.js';
import { lazyLogger } from '../../src/log/logger.js';
import { DataPlaneMetrics } from '../../src/dataplane/metrics.js';
import { ipv6Packet } from '../helpers/packets.js';

function peer(id: string, v4: string, v6: string | null, kind: PeerRoute['kind'] = 'tunmesh'): PeerRoute {
  return { id, url: 'https://[2001:2::b]:4567', addressCidr: v4, networkCidr: '198.19.0.0/16', path: 'fast', scope: 'local', kind, address6Cidr: v6, session: null };
}

function state(v6: boolean): DataPlaneState {
  return {
    selfId: 'self',
    addressCidr: '198.19.0.1/24',
    networkCidr: '198.19.0.0/16',
    address6Cidr: v6 ? '2001:2:0:100::1/64' : null,
    network6Cidr: v6 ? '2001:2:0:100::/56' : null,
    enableBroadcast: false,
    mtu: 1500,
    peers: [
      peer('b', '198.19.0.2/24', '2001:2:0:100::2/64'),
      { ...peer('c', '198.19.0.3/24', '2001:2:0:101::2/64'), mtu: 1280 },
      // Shares b's last word: the lookup must compare the whole address.
      peer('d', '198.19.0.4/24', '2001:2:0:1ff::2/64'),
      // An original node never gets an IPv6 route, even if a state named one.
      peer('o', '198.19.0.5/24', '2001:2:0:100::5/64', 'original'),
    ],
  };
}

const SELF = '2001:2:0:100::1';

describe('IPv6 routing', () => {
  const table = new RouteTable(state(true), (p) => ({ id: p.id }));

  it('finds the tunmesh peer that announced a destination, whole address compared', () => {
    const owner = (dst: string): unknown => (table.lookup6(ipv6Packet(SELF, dst), 0) as Ipv6Route<{ id: string }>).value;
    expect(owner('2001:2:0:100::2')).to.deep.equal({ id: 'b' });
    expect(owner('2001:2:0:101::2')).to.deep.equal({ id: 'c' });
    expect(owner('2001:2:0:1ff::2')).to.deep.equal({ id: 'd' });
    const shifted = Buffer.concat([Buffer.alloc(5), ipv6Packet(SELF, '2001:2:0:101::2')]);
    expect(table.lookup6(shifted, 5)).to.deep.include({ owner: 'c', mtu: 1280 });
    expect(table.lookup6(ipv6Packet(SELF, '2001:2:0:100::2'), 0), 'MTU unknown: ours').to.deep.include({ mtu: 1500 });
  });

  it('drops our own address, unknown mesh addresses, outsiders, link-scoped and multicast destinations with their reasons', () => {
    const reason = (dst: string): unknown => table.lookup6(ipv6Packet(SELF, dst), 0);
    expect(reason(SELF)).to.equal('loopback');
    expect(reason('2001:2:0:100::99')).to.equal('no_route');
    expect(reason('2001:2:0:100::5'), 'the original has no IPv6 route').to.equal('no_route');
    expect(reason('2001:2:1::1')).to.equal('outside_configured_network');
    expect(reason('fe80::1')).to.equal('link_local');
    expect(reason('ff02::2')).to.equal('link_local');
    expect(reason('ff02::1:ff00:2')).to.equal('link_local');
    expect(reason('ff05::2')).to.equal('unsupported');
  });

  it('is unsupported on a node without an IPv6 address', () => {
    const v4only = new RouteTable(state(false), (p) => ({ id: p.id }));
    expect(v4only.ipv6).to.equal(false);
    expect(v4only.lookup6(ipv6Packet(SELF, '2001:2:0:100::2'), 0)).to.equal('unsupported');
    expect(checkInbound(v4only, 'b', ipv6Packet('2001:2:0:100::2', SELF), 0, 48)).to.equal('unsupported');
  });

  it('checks a received IPv6 packet: source announced by the sender, destination us, length sane', () => {
    expect(checkInbound(table, 'b', ipv6Packet('2001:2:0:100::2', SELF), 0, 48)).to.equal(null);
    expect(checkInbound(table, 'b', ipv6Packet('2001:2:0:100::77', SELF), 0, 48)).to.equal('no_return_route');
    expect(checkInbound(table, 'o', ipv6Packet('2001:2:0:100::5', SELF), 0, 48), 'an original has no IPv6 address').to.equal('no_return_route');
    expect(checkInbound(table, 'c', ipv6Packet('2001:2:0:100::2', SELF), 0, 48)).to.equal('route_conflict');
    expect(checkInbound(table, 'b', ipv6Packet('2001:2:0:100::2', '2001:2:0:101::2'), 0, 48)).to.equal('misrouted');
    expect(checkInbound(table, 'b', ipv6Packet('2001:2:0:100::2', 'ff02::1'), 0, 48)).to.equal('misrouted');
    expect(checkInbound(table, 'b', ipv6Packet('2001:2:0:100::2', SELF), 0, 39)).to.equal('malformed');
    expect(checkInbound(table, 'b', ipv6Packet('2001:2:0:100::2', SELF, 100), 0, 60), 'payload length beyond the frame').to.equal('malformed');
  });
});

describe('IPv6 on the original\'s JSON path', () => {
  it('travels between tunmesh nodes as ethertype 0x86dd, and a mismatched ethertype is malformed', () => {
    const data = ipv6Packet('2001:2:0:100::2', SELF);
    const text = encodeLegacyPacket(data, 'b');
    expect(text).to.contain(`"ethertype":${ETHERTYPE_IPV6}`);
    expect(decodeLegacyPacket(text).data.equals(data)).to.equal(true);
    const lying = JSON.parse(encodeLegacyPacket(data, 'b')) as Record<string, unknown>;
    lying.ethertype = 2048;
    try {
      decodeLegacyPacket(lying);
      expect.fail('decoded');
    } catch (err) {
      expect(err).to.be.instanceOf(DataPlaneError);
      expect((err as DataPlaneError).reason).to.equal('malformed'); // the md5 covers the ethertype too
    }
  });

  it('never goes to an original node: the legacy sender drops it as ipv6_to_original, IPv4 is queued', () => {
    const settings = { queueLimit: 16, packetExpirationLocal: 1, packetExpirationMesh: 1, caPem: '', verifyHostname: false } as unknown as DataPlaneSettings;
    const metrics = new DataPlaneMetrics(new PromRegistry());
    const deps = { selfId: 'self', mtu: 1500, settings, signer: new SessionSigner('self', 5, 30, {}), metrics, onRejected: () => undefined, log: lazyLogger('error') };
    const toOriginal = new LegacySender({ ...peer('o', '198.19.0.5/24', null, 'original'), path: 'legacy', url: 'https://198.18.0.14:4567' }, deps);
    const toTunmesh = new LegacySender({ ...peer('b', '198.19.0.2/24', '2001:2:0:100::2/64'), path: 'legacy', url: 'https://198.18.0.11:4567' }, deps);
    const v4 = Buffer.alloc(28);
    v4[0] = 0x45;
    try {
      expect(toOriginal.append(ipv6Packet(SELF, '2001:2:0:100::5'), 0, 48)).to.equal('ipv6_to_original');
      expect(toOriginal.append(v4, 0, 28)).to.equal(null);
      expect(toTunmesh.append(ipv6Packet(SELF, '2001:2:0:100::2'), 0, 48)).to.equal(null);
    } finally {
      toOriginal.close();
      toTunmesh.close();
    }
  });
});

describe('ICMPv6 Packet Too Big toward a peer with a smaller MTU', () => {
  let clock = 0;
  function capture(): { sent: Buffer[]; ptb: PacketTooBig } {
    const sent: Buffer[] = [];
    return { sent, ptb: new PacketTooBig((buf, len) => (sent.push(Buffer.from(buf.subarray(0, len))), true), () => clock) };
  }

  it('answers from the peer\'s address to the sender, with the MTU, a quote fitting 1280 bytes and a valid checksum', () => {
    const { sent, ptb } = capture();
    const big = ipv6Packet(SELF, '2001:2:0:100::2', 1400);
    big[40] = 128; // an echo request
    big.fill(0xab, 48);
    expect(ptb.answer(big, 0, big.length, 1280)).to.equal(true);
    const out = sent[0]!;
    expect(out.length).to.equal(1280);
    expect(out[0]! >>> 4).to.equal(6);
    expect(out.readUInt16BE(4)).to.equal(1240);
    expect(out[6]).to.equal(58);
    expect(ipv6ToString(ipv6At(out, 8))).to.equal('2001:2:0:100::2');
    expect(ipv6ToString(ipv6At(out, 24))).to.equal(SELF);
    expect([out[40], out[41], out.readUInt32BE(44)]).to.deep.equal([2, 0, 1280]);
    expect(out.subarray(48).equals(big.subarray(0, 1232))).to.equal(true);
    const check = out.readUInt16BE(42);
    // Verified independently: pseudo-header (addresses, length, next header) + message sum to 0xffff.
    expect(naiveOnesSum(out.subarray(8, 40), Buffer.from([0, 0, 1240 >>> 8, 1240 & 0xff, 0, 0, 0, 58]), out.subarray(40))).to.equal(0xffff);
    out.writeUInt16BE(0, 42);
    expect(icmpv6Checksum(out, 1240)).to.equal(check);
  });

  it('never answers an ICMPv6 error or a multicast source, and is rate-limited', () => {
    const { sent, ptb } = capture();
    const error = ipv6Packet(SELF, '2001:2:0:100::2', 1400);
    error[40] = 1; // destination unreachable
    expect(ptb.answer(error, 0, error.length, 1280)).to.equal(false);
    const multicast = ipv6Packet('ff02::1', '2001:2:0:100::2', 1400);
    expect(ptb.answer(multicast, 0, multicast.length, 1280)).to.equal(false);
    const big = ipv6Packet(SELF, '2001:2:0:100::2', 1400);
    big[40] = 128;
    let answered = 0;
    for (let i = 0; i < TOO_BIG_PER_SECOND * 2; i++) if (ptb.answer(big, 0, big.length, 1280)) answered++;
    expect(answered, 'a burst gets one second\'s worth').to.equal(TOO_BIG_PER_SECOND);
    clock += 100; // a tenth of a second later: a tenth of the budget again
    for (let i = 0; i < TOO_BIG_PER_SECOND; i++) if (ptb.answer(big, 0, big.length, 1280)) answered++;
    expect(answered).to.equal(TOO_BIG_PER_SECOND + TOO_BIG_PER_SECOND / 10);
    expect(sent).to.have.length(answered);
  });
});

describe('peer URLs with IPv6 literals', () => {
  it('connect to the bare address, send the bracketed authority as Host, and never send an IP as SNI', () => {
    expect(peerEndpoint('https://[2001:2::b]:4567')).to.deep.equal({ host: '2001:2::b', port: 4567, authority: '[2001:2::b]:4567' });
    expect(peerEndpoint('https://[2001:0002:0::b]')).to.deep.equal({ host: '2001:2::b', port: 443, authority: '[2001:2::b]:443' });
    expect(peerEndpoint('https://198.18.0.11:4567')).to.deep.equal({ host: '198.18.0.11', port: 4567, authority: '198.18.0.11:4567' });
    const settings = { caPem: '', verifyHostname: true } as unknown as DataPlaneSettings;
    expect(peerTlsOptions(settings, '2001:2::b')).to.not.have.property('servername');
    expect(peerTlsOptions(settings, 'node-b.example')).to.have.property('servername', 'node-b.example');
  });
});
