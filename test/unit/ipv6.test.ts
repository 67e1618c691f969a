import { expect } from 'chai';
import {
  ipv6At,
  ipv6CidrContainsAt,
  ipv6CidrString,
  ipv6CidrWithin,
  ipv6DstOffset,
  ipv6DstWord,
  ipv6FromString,
  ipv6NetworkString,
  ipv6NextHeader,
  ipv6PayloadLength,
  ipv6SrcOffset,
  ipv6SrcWord,
  ipv6ToString,
  isLinkLocalAt,
  isLinkScopeMulticastAt,
  isMulticastAt,
  parseIpv6Cidr,
  tryParseIpv6Cidr,
  unusableNodeAddressReason,
} from '../../src/tun/ipv6.js';
import { TunError } from '../../src/tun/errors.js';
import { capabilitiesOf, capabilityClaims, CAPABILITY_CLAIM, localCapabilities } from '../../src/mesh/capabilities.js';
import { ipv6Packet } from '../helpers/packets.js';

describe('IPv6 header helpers', () => {
  it('reads payload length, next header and both addresses in place, at an offset', () => {
    const p = Buffer.concat([Buffer.alloc(3), ipv6Packet('2001:2:0:100::1', '2001:2:0:100::a', 16)]);
    expect(ipv6PayloadLength(p, 3)).to.equal(16);
    expect(ipv6NextHeader(p, 3)).to.equal(58);
    expect([0, 1, 2, 3].map((i) => ipv6SrcWord(p, 3, i))).to.deep.equal([0x20010002, 0x100, 0, 1]);
    expect([0, 1, 2, 3].map((i) => ipv6DstWord(p, 3, i))).to.deep.equal([0x20010002, 0x100, 0, 0xa]);
    expect(ipv6ToString(ipv6At(p, ipv6SrcOffset(3)))).to.equal('2001:2:0:100::1');
    expect(ipv6ToString(ipv6At(p, ipv6DstOffset(3)))).to.equal('2001:2:0:100::a');
  });

  it('parses the text forms of RFC 4291 and prints RFC 5952 canonical text', () => {
    const cases: Array<[string, string]> = [
      ['2001:0002:0000:0000:0000:0000:0000:0001', '2001:2::1'],
      ['2001:2::', '2001:2::'],
      ['::', '::'],
      ['::1', '::1'],
      ['2001:2:0:1:0:0:1:0', '2001:2:0:1::1:0'],
      ['2001:2:0:0:1:0:0:1', '2001:2::1:0:0:1'], // the first of two equal runs
      ['FE80::ABCD', 'fe80::abcd'],
      ['2001:2:1:2:3:4:5:6', '2001:2:1:2:3:4:5:6'],
      ['2001:2:0:1:2:3:4:5', '2001:2:0:1:2:3:4:5'], // a single zero group is not compressed
    ];
    for (const [text, canonical] of cases) expect(ipv6ToString(ipv6FromString(text)), text).to.equal(canonical);
  });

  it('refuses what is not an IPv6 address, zones and IPv4-mapped tails included', () => {
    for (const bad of ['', '1::2::3', '2001:2::g', '12345::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '::ffff:198.19.0.1', 'fe80::1%eth0', '198.19.0.1', ':::']) {
      expect(() => ipv6FromString(bad), bad).to.throw(TunError, /not an IPv6 address/);
    }
  });

  it('parses CIDRs with prefixes /0 to /128 and refuses others', () => {
    const c = parseIpv6Cidr('2001:2:0:100::1/56');
    expect(ipv6NetworkString(c)).to.equal('2001:2:0:100::/56');
    expect(ipv6CidrString(c)).to.equal('2001:2:0:100::1/56');
    expect(parseIpv6Cidr('2001:2::1').prefix).to.equal(128);
    expect(ipv6NetworkString(parseIpv6Cidr('2001:2::1/0'))).to.equal('::/0');
    expect(ipv6NetworkString(parseIpv6Cidr('2001:2:0:1:ffff::1/65'))).to.equal('2001:2:0:1:8000::/65');
    for (const bad of ['2001:2::1/129', '2001:2::1/-1', '2001:2::1/', '2001:2::1/6x', '2001:2::1/1280']) {
      expect(() => parseIpv6Cidr(bad), bad).to.throw(TunError, /prefix length/);
      expect(tryParseIpv6Cidr(bad), bad).to.equal(null);
    }
    expect(tryParseIpv6Cidr('2001:2::1'), 'untrusted text needs the prefix').to.equal(null);
  });

  it('tells containment, in place, and whether a subnet lies inside a network', () => {
    const net = parseIpv6Cidr('2001:2:0:100::/56');
    const p = ipv6Packet('2001:2:0:1ff::1', '2001:2:0:200::1');
    expect(ipv6CidrContainsAt(net, p, ipv6SrcOffset(0))).to.equal(true);
    expect(ipv6CidrContainsAt(net, p, ipv6DstOffset(0))).to.equal(false);
    expect(ipv6CidrWithin(net, parseIpv6Cidr('2001:2:0:101::1/64'))).to.equal(true);
    expect(ipv6CidrWithin(net, parseIpv6Cidr('2001:2:0:101::1/48')), 'a wider prefix spills out').to.equal(false);
  });

  it('knows the scopes the mesh never carries', () => {
    const at = (a: string): Buffer => ipv6Packet(a, a).subarray(8, 24);
    expect(isLinkLocalAt(at('fe80::1'), 0)).to.equal(true);
    expect(isLinkLocalAt(at('febf::1'), 0)).to.equal(true);
    expect(isLinkLocalAt(at('fec0::1'), 0)).to.equal(false);
    expect(isLinkScopeMulticastAt(at('ff02::1:ff00:1'), 0)).to.equal(true);
    expect(isLinkScopeMulticastAt(at('ff05::2'), 0)).to.equal(false);
    expect(isMulticastAt(at('ff05::2'), 0)).to.equal(true);
    expect(unusableNodeAddressReason(ipv6FromString('fe80::1'))).to.match(/link-local/);
    expect(unusableNodeAddressReason(ipv6FromString('ff05::1'))).to.match(/multicast/);
    expect(unusableNodeAddressReason(ipv6FromString('::'))).to.match(/unspecified/);
    expect(unusableNodeAddressReason(ipv6FromString('2001:2::1'))).to.equal(undefined);
  });
});

describe('the IPv6 address in the tunmesh claim', () => {
  it('is announced as {address, prefix} inside the signed claim, and read back canonical', () => {
    const claims = capabilityClaims(localCapabilities(true, false, '2001:0002:0:100:0::1/64'));
    expect(claims[CAPABILITY_CLAIM]).to.deep.include({ ipv6: { address: '2001:2:0:100::1', prefix: 64 } });
    expect(capabilitiesOf(claims)?.ipv6).to.equal('2001:2:0:100::1/64');
  });

  it('is absent without an IPv6 address, and an unusable one is ignored (the node is IPv4 only to us)', () => {
    expect(capabilityClaims(localCapabilities(true))[CAPABILITY_CLAIM]).to.not.have.property('ipv6');
    for (const ipv6 of [{ address: 'fe80::1', prefix: 64 }, { address: '2001:2::1', prefix: 129 }, { address: 'nope', prefix: 64 }, { address: '2001:2::1' }, '2001:2::1/64']) {
      const caps = capabilitiesOf({ [CAPABILITY_CLAIM]: { fast_path: 1, wrap: ['oaep-sha256'], ipv6 } });
      expect(caps, JSON.stringify(ipv6)).to.deep.equal({ fastPath: 1, wrap: ['oaep-sha256'] });
    }
  });
});
