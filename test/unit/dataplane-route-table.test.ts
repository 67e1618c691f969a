import { expect } from 'chai';
import { checkInbound } from '../../src/dataplane/checks.js';
import type { DataPlaneState, PeerRoute } from '../../src/dataplane/contract.js';
import { BROADCAST, RouteTable } from '../../src/dataplane/route-table.js';
import { ipv4FromString } from '../../src/tun/ipv4.js';

function peer(id: string, address: string): PeerRoute {
  return { id, url: 'https://198.18.0.2:4567', addressCidr: address, networkCidr: '198.19.0.0/16', path: 'fast', scope: 'mesh', session: null };
}

function state(enableBroadcast: boolean): DataPlaneState {
  return {
    selfId: 'self',
    addressCidr: '198.19.1.1/24',
    networkCidr: '198.19.0.0/16',
    enableBroadcast,
    mtu: 1400,
    peers: [peer('b', '198.19.1.2/24'), peer('c', '198.19.2.3/24')],
  };
}

const ip = ipv4FromString;

function packet(src: string, dst: string): Buffer {
  const p = Buffer.alloc(28);
  p[0] = 0x45;
  p.writeUInt16BE(28, 2);
  p.writeUInt32BE(ip(src), 12);
  p.writeUInt32BE(ip(dst), 16);
  return p;
}

describe('dataplane route table', () => {
  const table = new RouteTable(state(false), (p) => ({ id: p.id }));

  it('finds the peer that owns a destination address', () => {
    expect(table.lookup(ip('198.19.1.2'))).to.deep.equal({ id: 'b' });
    expect(table.lookup(ip('198.19.2.3'))).to.deep.equal({ id: 'c' });
  });

  it('drops our own address as loopback, unknown mesh addresses as no_route, others as outside', () => {
    expect(table.lookup(ip('198.19.1.1'))).to.equal('loopback');
    expect(table.lookup(ip('198.19.9.9'))).to.equal('no_route');
    expect(table.lookup(ip('198.18.0.1'))).to.equal('outside_configured_network');
    expect(table.lookup(ip('224.0.0.1'))).to.equal('unsupported');
  });

  it('refuses broadcasts unless enabled, then sends them to every peer', () => {
    for (const b of ['255.255.255.255', '198.19.255.255', '198.19.1.255']) {
      expect(table.lookup(ip(b)), b).to.equal('config_prohibited');
      const open = new RouteTable(state(true), (p) => ({ id: p.id }));
      expect(open.lookup(ip(b)), b).to.equal(BROADCAST);
      expect(open.all.map((x) => x.id)).to.deep.equal(['b', 'c']);
    }
  });

  it('checks a received packet: source owned by the sender, destination us', () => {
    expect(checkInbound(table, 'b', packet('198.19.1.2', '198.19.1.1'), 0, 28)).to.equal(null);
    expect(checkInbound(table, 'b', packet('198.19.7.7', '198.19.1.1'), 0, 28)).to.equal('no_return_route');
    expect(checkInbound(table, 'c', packet('198.19.1.2', '198.19.1.1'), 0, 28)).to.equal('route_conflict');
    expect(checkInbound(table, 'b', packet('198.19.1.2', '198.19.2.3'), 0, 28)).to.equal('misrouted');
    expect(checkInbound(table, 'b', packet('198.19.1.2', '198.19.1.1'), 0, 10)).to.equal('malformed');
  });
});
