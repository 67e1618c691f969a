// An independent RFC 1071 verifier for tests: a naive sum, deliberately not the product's code
// (src/tun/ipv4.ts, src/offload/checksum.ts), so a bug there cannot hide in the check.

/** One's complement sum of the 16-bit words of the parts (an odd last byte of a part padded with zero), folded: 0xffff for data whose checksum verifies. */
export function naiveOnesSum(...parts: Buffer[]): number {
  let sum = 0;
  for (const b of parts) for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) + (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}
