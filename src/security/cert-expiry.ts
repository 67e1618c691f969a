// When TLS material expires, for the expiry metrics: a PEM file may hold several certificates
// (a CA bundle during a CA rotation); what matters is the first of them to expire.
import { X509Certificate } from 'node:crypto';

/** Unix seconds of this node's certificate and its CA's expiry. */
export interface CertificateExpiry {
  node?: number;
  ca?: number;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The earliest notAfter (Unix seconds) of the certificates in `pem`; undefined if none parses. */
export function earliestNotAfter(pem: Buffer | string): number | undefined {
  let earliest: number | undefined;
  for (const block of pem.toString().match(PEM_CERTIFICATE) ?? []) {
    let seconds: number;
    try {
      seconds = Math.floor(new Date(new X509Certificate(block).validTo).getTime() / 1000);
    } catch {
      continue;
    }
    earliest = earliest === undefined ? seconds : Math.min(earliest, seconds);
  }
  return earliest;
}

/** The expiry of a node's TLS material: its certificate, and the first certificate in its CA file to expire. */
export function certificateExpiry(tls: { notAfter: number; ca: Buffer }): CertificateExpiry {
  const ca = earliestNotAfter(tls.ca);
  return { node: tls.notAfter, ...(ca === undefined ? {} : { ca }) };
}
