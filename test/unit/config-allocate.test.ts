// tunmesh.networking.ipv4.allocate: one config for every pod, the address picked by the node.
import { expect } from 'chai';
import { problemsOf } from '../helpers/config.js';
import { configFromObject } from '../../src/config/load.js';
import { addressChoice, allocationSeed, derivedIpv6, hostCount, withNodeAddress } from '../../src/config/allocate.js';
import { cidrContains } from '../../src/tun/ipv4.js';
import { makeTlsDir, type TlsDir } from '../fixtures/configs/fixtures.js';

const SECRET = '0123456789abcdef0123456789abcdef';

function doc(tls: TlsDir, ipv4: Record<string, unknown>, allocate?: boolean, url = 'https://198.18.1.1:4567'): Record<string, unknown> {
  return {
    tun_mesh: {
      config_version: 1.1,
      clustering: { control_api_advertise_url: url, auth: { secret: SECRET }, bootstrap_groups: { default: { bootstrap_node_urls: null } } },
      control_api: { ssl: { cert_file_path: tls.cert, key_file_path: tls.key } },
      networking: { ipv4 },
      process: { uid: 1000 },
    },
    ...(allocate === undefined ? {} : { tunmesh: { networking: { ipv4: { allocate } } } }),
  };
}

describe('address allocation (tunmesh.networking.ipv4.allocate)', () => {
  let tls: TlsDir;
  before(() => { tls = makeTlsDir(); });

  it('picks an address inside network_cidr with its prefix, the same for the same host and URL', () => {
    const a = configFromObject(doc(tls, { network_cidr: '198.19.0.0/16' }, true));
    const b = configFromObject(doc(tls, { network_cidr: '198.19.0.0/16' }, true));
    expect(a.networking.ipv4.nodeAddressCidr).to.match(/^198\.19\.\d+\.\d+\/16$/);
    expect(a.networking.ipv4.nodeAddressCidr).to.equal(b.networking.ipv4.nodeAddressCidr);
    expect(a.networking.ipv4.allocationSeed).to.equal(allocationSeed('https://198.18.1.1:4567'));
  });

  it('is switched on from the environment too (TUNMESH_ALLOCATE_ADDRESS)', () => {
    const c = configFromObject(doc(tls, { network_cidr: '198.19.0.0/24' }), { TUNMESH_ALLOCATE_ADDRESS: 'true' });
    expect(c.networking.ipv4.nodeAddressCidr).to.match(/^198\.19\.0\.\d+\/24$/);
  });

  it('names the key when both or neither are given, and a network with no room', () => {
    expect(problemsOf(() => configFromObject(doc(tls, { network_cidr: '198.19.0.0/16' })))).to.deep.equal([
      'tun_mesh/networking/ipv4/node_address_cidr: is required (or let the node pick one: tunmesh/networking/ipv4/allocate: true)',
    ]);
    expect(problemsOf(() => configFromObject(doc(tls, { network_cidr: '198.19.0.0/16', node_address_cidr: '198.19.1.1/24' }, true)))[0]).to.match(/node_address_cidr: must be left out with tunmesh\/networking\/ipv4\/allocate/);
    expect(problemsOf(() => configFromObject(doc(tls, { network_cidr: '198.19.0.0/31' }, true)))[0]).to.match(/^tunmesh\/networking\/ipv4\/allocate: needs .* room for two nodes/);
  });

  it('spreads nodes over the range and never hands out the network or broadcast address', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const cidr = addressChoice('198.19.0.0/24', allocationSeed(`https://198.18.0.${i}:4567`, 'pod'));
      const address = cidr.split('/')[0]!;
      expect(cidrContains('198.19.0.0/24', address)).to.equal(true);
      expect(address).to.not.be.oneOf(['198.19.0.0', '198.19.0.255']);
      seen.add(address);
    }
    expect(seen.size, 'distinct first choices of 200 seeds in 254 hosts').to.be.above(100);
  });

  it('takes the next choice past taken addresses, and says so when none is left', () => {
    const seed = allocationSeed('https://198.18.0.1:4567', 'pod');
    const first = addressChoice('198.19.0.0/29', seed).split('/')[0]!;
    const second = addressChoice('198.19.0.0/29', seed, new Set([first])).split('/')[0]!;
    expect(second).to.not.equal(first);
    const all = new Set(Array.from({ length: hostCount('198.19.0.0/29') }, (_, k) => `198.19.0.${k + 1}`));
    all.delete('198.19.0.4');
    expect(addressChoice('198.19.0.0/29', seed, all)).to.equal('198.19.0.4/29');
    all.add('198.19.0.4');
    expect(() => addressChoice('198.19.0.0/29', seed, all)).to.throw(/no free address left in 198\.19\.0\.0\/29/);
  });
});

describe('IPv6 address derived from the IPv4 one (tunmesh.networking.ipv6.allocate)', () => {
  let tls: TlsDir;
  before(() => { tls = makeTlsDir(); });
  const withV6 = (ipv6: Record<string, unknown>, allocate4?: boolean): Record<string, unknown> => {
    const d = doc(tls, allocate4 ? { network_cidr: '198.19.0.0/16' } : { network_cidr: '198.19.0.0/16', node_address_cidr: '198.19.7.9/24' }, allocate4);
    const tunmesh = (d['tunmesh'] ?? {}) as { networking?: Record<string, unknown> };
    return { ...d, tunmesh: { ...tunmesh, networking: { ...tunmesh.networking, ipv6 } } };
  };

  it('puts the IPv4 address in the last 32 bits of the network, and follows a move', () => {
    expect(derivedIpv6('2001:2:0:100::/56', '198.19.7.9/24')).to.equal('2001:2:0:100::c613:709/56');
    const c = configFromObject(withV6({ network_cidr: '2001:2:0:100::/56', allocate: true }));
    expect(c.networking.ipv6).to.deep.equal({ networkCidr: '2001:2:0:100::/56', nodeAddressCidr: '2001:2:0:100::c613:709/56', derived: true });
    const moved = withNodeAddress(configFromObject(withV6({ network_cidr: '2001:2:0:100::/56', allocate: true }, true)), '198.19.1.2/16');
    expect(moved.networking.ipv6?.nodeAddressCidr).to.equal('2001:2:0:100::c613:102/56');
    const fixed = withNodeAddress(configFromObject(withV6({ network_cidr: '2001:2:0:100::/56', node_address_cidr: '2001:2:0:100::1/64' })), '198.19.1.2/24');
    expect(fixed.networking.ipv6?.nodeAddressCidr).to.equal('2001:2:0:100::1/64');
  });

  it('names the key when the network is missing or too long, or an address is given too', () => {
    expect(problemsOf(() => configFromObject(withV6({ allocate: true })))).to.deep.equal(['tunmesh/networking/ipv6/network_cidr: is required with tunmesh/networking/ipv6/allocate']);
    expect(problemsOf(() => configFromObject(withV6({ network_cidr: '2001:2::/112', allocate: true })))[0]).to.match(/^tunmesh\/networking\/ipv6\/network_cidr: must be a \/96 or shorter/);
    expect(problemsOf(() => configFromObject(withV6({ network_cidr: '2001:2::/56', node_address_cidr: '2001:2::1/64', allocate: true })))[0]).to.match(/^tunmesh\/networking\/ipv6\/node_address_cidr: must be left out/);
  });
});
