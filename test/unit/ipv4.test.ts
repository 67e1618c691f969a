import { expect } from 'chai';
import {
  TunError,
  cidrContains,
  cidrNetworkString,
  internetChecksum,
  ipVersion,
  ipv4Dst,
  ipv4FixChecksum,
  ipv4FromString,
  ipv4HeaderLength,
  ipv4Protocol,
  ipv4Src,
  ipv4ToString,
  ipv4TotalLength,
  parseIpv4Cidr,
  prefixToMask,
} from '../../src/tun/index.js';

// An ICMP echo request 198.19.1.1 -> 198.19.1.2 as the kernel writes it (checksum included),
// placed at offset 5 of a larger buffer, as packets sit in a batch slot.
const HEADER_HEX = '45000054' + '12344000' + '4001' + '0000' + 'c6130101' + 'c6130102';
function packetAt(off: number): Buffer {
  const buf = Buffer.alloc(off + 84);
  Buffer.from(HEADER_HEX, 'hex').copy(buf, off);
  buf[off + 20] = 8; // ICMP echo request
  ipv4FixChecksum(buf, off);
  return buf;
}

describe('ipv4 helpers', function () {
  it('reads version, lengths, protocol and addresses at an offset', function () {
    const b = packetAt(5);
    expect(ipVersion(b, 5)).to.equal(4);
    expect(ipv4HeaderLength(b, 5)).to.equal(20);
    expect(ipv4TotalLength(b, 5)).to.equal(84);
    expect(ipv4Protocol(b, 5)).to.equal(1);
    expect(ipv4Src(b, 5)).to.equal(0xc6130101);
    expect(ipv4Dst(b, 5)).to.equal(0xc6130102);
  });

  it('a header with its checksum filled in sums to zero', function () {
    const b = packetAt(3);
    expect(internetChecksum(b, 3, 20)).to.equal(0);
    expect(b.readUInt16BE(3 + 10)).to.not.equal(0);
  });

  it('computes the RFC 1071 example checksum, including an odd trailing byte', function () {
    // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, checksum 220d.
    expect(internetChecksum(Buffer.from('0001f203f4f5f6f7', 'hex'), 0, 8)).to.equal(0x220d);
    expect(internetChecksum(Buffer.from('01', 'hex'), 0, 1)).to.equal(0xfeff);
  });

  it('converts addresses to and from dotted quads as unsigned 32-bit numbers', function () {
    expect(ipv4FromString('198.19.0.1')).to.equal(0xc6130001);
    expect(ipv4FromString('255.255.255.255')).to.equal(0xffffffff);
    expect(ipv4ToString(0xffffffff)).to.equal('255.255.255.255');
    expect(ipv4ToString(0)).to.equal('0.0.0.0');
    expect(ipv4ToString(ipv4FromString('198.18.30.40'))).to.equal('198.18.30.40');
  });

  it('refuses malformed addresses with a TunError naming the input', function () {
    for (const bad of ['256.1.1.1', '1.2.3', '1.2.3.4.5', 'a.b.c.d', '01.2.3.4', '', '1.2.3.-4']) {
      expect(() => ipv4FromString(bad), bad).to.throw(TunError, /not an IPv4 address/);
    }
  });

  it('parses a CIDR into address, network, mask and broadcast', function () {
    const c = parseIpv4Cidr('198.19.1.7/24');
    expect(c.address).to.equal(ipv4FromString('198.19.1.7'));
    expect(c.prefix).to.equal(24);
    expect(c.mask).to.equal(0xffffff00);
    expect(ipv4ToString(c.network)).to.equal('198.19.1.0');
    expect(ipv4ToString(c.broadcast)).to.equal('198.19.1.255');
    expect(cidrNetworkString(c)).to.equal('198.19.1.0/24');
  });

  it('handles the /0 and /32 edges and a bare address as /32', function () {
    expect(prefixToMask(0)).to.equal(0);
    expect(prefixToMask(32)).to.equal(0xffffffff);
    const all = parseIpv4Cidr('0.0.0.0/0');
    expect(all.broadcast).to.equal(0xffffffff);
    const host = parseIpv4Cidr('198.19.2.3');
    expect(host.prefix).to.equal(32);
    expect(host.network).to.equal(host.broadcast);
  });

  it('refuses a bad prefix length', function () {
    for (const bad of ['198.19.0.0/33', '198.19.0.0/', '198.19.0.0/x', '198.19.0.0/-1']) {
      expect(() => parseIpv4Cidr(bad), bad).to.throw(TunError, /prefix length/);
    }
  });

  it('tells whether an address lies in a network', function () {
    expect(cidrContains('198.19.0.0/16', '198.19.200.1')).to.equal(true);
    expect(cidrContains('198.19.0.0/16', '198.18.0.1')).to.equal(false);
    expect(cidrContains(parseIpv4Cidr('198.19.1.1/24'), ipv4FromString('198.19.1.255'))).to.equal(true);
    expect(cidrContains('0.0.0.0/0', '198.18.8.8')).to.equal(true);
    expect(cidrContains('198.19.1.1/32', '198.19.1.2')).to.equal(false);
  });
});
