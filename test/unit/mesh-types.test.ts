import { expect } from 'chai';
import { parseNodeInfo } from '../../src/mesh/types.js';
import { MeshError } from '../../src/mesh/errors.js';
import { RouteTable } from '../../src/dataplane/route-table.js';

const info = (nodeCidr: string) => ({
  id: '11111111-1111-4111-8111-111111111111',
  listen_url: 'https://198.18.0.11:4567',
  network_addresses: { ipv4: { cidr: '198.19.0.0/16' } },
  node_addresses: { ipv4: { cidr: nodeCidr } },
});

describe('registration payloads', () => {
  it('accept a node address the route table can use', () => {
    const parsed = parseNodeInfo(info('198.19.0.2/24'));
    const table = new RouteTable(
      { selfId: 'me', addressCidr: '198.19.0.1/24', networkCidr: '198.19.0.0/16', enableBroadcast: false, mtu: 1500, peers: [{ id: parsed.id, url: parsed.listen_url, addressCidr: parsed.node_addresses.ipv4.cidr, networkCidr: '198.19.0.0/16', path: 'fast', scope: 'local', session: null }] },
      (peer) => ({ id: peer.id }),
    );
    expect(table.lookup(0xc6130002)).to.deep.equal({ id: parsed.id });
  });

  // One parser for both: a leading-zero octet used to pass registration and then throw while a
  // worker built its route table.
  for (const bad of ['198.019.0.2/24', '198.19.0.2', '198.19.0.2/33', '198.19.0.256/24']) {
    it(`refuse the node address ${bad}`, () => {
      expect(() => parseNodeInfo(info(bad))).to.throw(MeshError, /node_addresses/);
    });
  }
});
