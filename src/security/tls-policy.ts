// The TLS policy of every tunmesh connection, server and client alike: TLS 1.2 or 1.3, and for
// TLS 1.2 only forward-secret AEAD suites (the "intermediate" profile: ECDHE with AES-GCM or
// ChaCha20-Poly1305, ECDSA or RSA certificates). Refused: static-RSA key exchange (no forward
// secrecy), CBC (padding oracles), CCM8, ARIA, Camellia, DHE (weak groups, slow). TLS 1.3 keeps
// node's default suites, which are all AEAD and forward-secret. The original's Puma accepts
// these suites (docs/security.md, "TLS suites").
import type { SecureVersion } from 'node:tls';

const TLS_MIN_VERSION: SecureVersion = 'TLSv1.2';

/** TLS 1.3 suites, node's defaults, named so that setting `ciphers` does not switch 1.3 off. */
const TLS13_SUITES = ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256'] as const;

/** TLS 1.2 suites (OpenSSL names) in the intermediate profile's order, which the server enforces. */
export const TLS12_SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
] as const;

/** The `ciphers` string node's TLS takes: TLS 1.3 names and TLS 1.2 names in one list. */
const TLS_CIPHERS = [...TLS13_SUITES, ...TLS12_SUITES].join(':');

/** Key-exchange groups, X25519 first; all that OpenSSL 1.1+ and 3 (the original's Ruby) offer. */
const TLS_ECDH_CURVES = 'X25519:prime256v1:secp384r1';

/** Options for a TLS server (the API listener). */
export function serverTlsPolicy(): { minVersion: SecureVersion; ciphers: string; ecdhCurve: string; honorCipherOrder: boolean } {
  // Our order, not the client's: a client that lists a weaker accepted suite first still gets a strong one.
  return { minVersion: TLS_MIN_VERSION, ciphers: TLS_CIPHERS, ecdhCurve: TLS_ECDH_CURVES, honorCipherOrder: true };
}

/** Options for an outbound TLS connection (peer API requests, legacy sender, fast channels). */
export function clientTlsPolicy(): { minVersion: SecureVersion; ciphers: string; ecdhCurve: string } {
  return { minVersion: TLS_MIN_VERSION, ciphers: TLS_CIPHERS, ecdhCurve: TLS_ECDH_CURVES };
}
