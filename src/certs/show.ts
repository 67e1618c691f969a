// `tunmesh certs show FILE`: what an operator checks before deploying a certificate. Uses only
// node's X509Certificate (the same parser TLS uses), so it also runs where the node runs.
import { X509Certificate } from 'node:crypto';
import { CertsError } from './errors.js';
import { groupsOfUris } from '../security/groups.js';

export interface CertificateSummary {
  subject: string;
  issuer: string;
  serial: string;
  /** e.g. "DNS:node-a.example", "IP Address:198.18.0.1" */
  subjectAltNames: string[];
  /** Firewall groups (URI SANs urn:tunmesh:group:NAME). */
  groups: string[];
  /** SHA-256 of the DER, upper-case hex with colons (node's fingerprint256). */
  fingerprintSha256: string;
  key: string;
  ca: boolean;
  notBefore: string;
  notAfter: string;
  /** Negative once expired. */
  daysToExpiry: number;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const DAY_MS = 86_400_000;
const CURVE_NAMES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** Every certificate in a PEM text (a single certificate, a chain or a CA bundle). */
export function parsePemCertificates(pem: string, source: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new CertsError(`${source}: no PEM certificate in it`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new CertsError(`${source}: certificate ${i + 1} is not valid X.509`);
    }
  });
}

export function summarize(cert: X509Certificate, now = Date.now()): CertificateSummary {
  const notAfter = new Date(cert.validTo);
  const sans = cert.subjectAltName ? cert.subjectAltName.split(', ') : [];
  return {
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    serial: cert.serialNumber,
    subjectAltNames: sans,
    groups: groupsOfUris(sans.filter((n) => n.startsWith('URI:')).map((n) => n.slice(4))),
    fingerprintSha256: cert.fingerprint256,
    key: describeKey(cert),
    ca: cert.ca,
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: notAfter.toISOString(),
    daysToExpiry: Math.floor(((notAfter.getTime() - now) / DAY_MS) * 10) / 10,
  };
}

function formatSummary(s: CertificateSummary): string {
  const expiry = s.daysToExpiry < 0 ? `EXPIRED ${-s.daysToExpiry} days ago` : `${s.daysToExpiry} days left`;
  const lines: Array<[string, string]> = [
    ['subject', s.subject],
    ['issuer', s.issuer],
    ['serial', s.serial],
    ['SANs', s.subjectAltNames.length === 0 ? '(none)' : s.subjectAltNames.join(', ')],
    ['groups', s.groups.length === 0 ? '(none)' : s.groups.join(', ')],
    ['SHA-256', s.fingerprintSha256],
    ['key', s.key],
    ['CA', s.ca ? 'yes' : 'no'],
    ['not before', s.notBefore],
    ['not after', `${s.notAfter} (${expiry})`],
  ];
  return lines.map(([k, v]) => `  ${(k + ':').padEnd(12)}${v}\n`).join('');
}

/** Every certificate of a PEM text, formatted; numbered when there are several. */
export function describePem(pem: string, source: string): string {
  const certs = parsePemCertificates(pem, source);
  return certs.map((c, i) => `${certs.length > 1 ? `certificate ${i + 1} of ${certs.length}:\n` : ''}${formatSummary(summarize(c))}`).join('');
}

function oneLine(dn: string): string {
  return dn.split('\n').filter((p) => p !== '').join(', ');
}

function describeKey(cert: X509Certificate): string {
  const key = cert.publicKey;
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') return `ECDSA ${CURVE_NAMES[d.namedCurve ?? ''] ?? d.namedCurve ?? '?'}`;
  if (key.asymmetricKeyType === 'rsa') return `RSA ${d.modulusLength ?? '?'} bits`;
  return key.asymmetricKeyType ?? 'unknown';
}
