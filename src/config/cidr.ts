/**
 * IPv4 CIDR notation (`198.19.1.0/24`): parsing and containment, as used by the networking keys.
 * The address part may have host bits set (`198.19.1.1/24` is a node address with its prefix).
 */

export interface Ipv4Cidr {
  /** The address as written, as an unsigned 32-bit integer. */
  readonly address: number;
  readonly prefixLength: number;
  /** The network address (host bits cleared), unsigned. */
  readonly network: number;
  /** The netmask, unsigned. */
  readonly mask: number;
}

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parses `a.b.c.d/n`; returns null for anything that is not a valid IPv4 CIDR. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | null {
  const m = CIDR.exec(text.trim());
  if (m === null) return null;
  const octets = m.slice(1, 5).map(Number);
  const prefixLength = Number(m[5]);
  if (octets.some((o) => o > 255) || prefixLength > 32) return null;
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  return { address, prefixLength, network: (address & mask) >>> 0, mask };
}

/** True when `inner` (address and its prefix) lies wholly inside `outer`. */
export function cidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return inner.prefixLength >= outer.prefixLength && ((inner.address & outer.mask) >>> 0) === outer.network;
}
