// Parameters of `tunmesh certs`, checked before any key is made: key algorithms, validity,
// names and subject alternative names. Anything weak or malformed is a CertsError.
import { isIP } from 'node:net';
import { CertsError } from './errors.js';
import { GROUP_NAME } from '../security/groups.js';

/** Key algorithms we generate. ECDSA P-256 is the default: small, fast, accepted everywhere. */
export const KEY_ALGORITHMS = ['ecdsa-p256', 'rsa-3072', 'rsa-4096'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];
const DEFAULT_KEY_ALGORITHM: KeyAlgorithm = 'ecdsa-p256';

/** Validity limits in days. Node certificates stay short (browsers' 397-day ceiling). */
export const VALIDITY = {
  ca: { default: 1825, max: 3650 },
  node: { default: 30, max: 397 },
} as const;

export function parseKeyAlgorithm(value: string | undefined): KeyAlgorithm {
  if (value === undefined) return DEFAULT_KEY_ALGORITHM;
  if ((KEY_ALGORITHMS as readonly string[]).includes(value)) return value as KeyAlgorithm;
  if (/^rsa-\d+$/.test(value)) throw new CertsError(`--key ${value}: RSA keys shorter than 3072 bits or of odd sizes are refused; use rsa-3072 or rsa-4096`);
  throw new CertsError(`--key ${value}: unknown key algorithm; use one of ${KEY_ALGORITHMS.join(', ')}`);
}

export function parseDays(value: string | undefined, kind: keyof typeof VALIDITY): number {
  const limits = VALIDITY[kind];
  if (value === undefined) return limits.default;
  if (!/^\d+$/.test(value)) throw new CertsError(`--days ${value}: expected a whole number of days`);
  const days = Number(value);
  if (days <= 0) throw new CertsError(`--days ${value}: a certificate must be valid for at least one day`);
  if (days > limits.max) throw new CertsError(`--days ${value}: at most ${limits.max} days for a ${kind === 'ca' ? 'CA' : 'node'} certificate (renew instead)`);
  return days;
}

/** A node name: also a file name, so letters, digits, '.', '_' and '-' only. */
export function parseNodeName(value: string | undefined, option = '--name'): string {
  if (value === undefined || value === '') throw new CertsError(`${option} is required`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)) {
    throw new CertsError(`${option} ${JSON.stringify(value)}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  return value;
}

/** A CA's common name: free text, but printable and short. */
export function parseCommonName(value: string | undefined, fallback: string): string {
  const name = value ?? fallback;
  if (name === '' || name.length > 64 || !/^[\x20-\x7e]+$/.test(name)) {
    throw new CertsError(`--name ${JSON.stringify(name)}: use 1-64 printable ASCII characters`);
  }
  return name;
}

export interface SubjectAltNames {
  ips: string[];
  dns: string[];
  /** Groups, written as URI SANs urn:tunmesh:group:<name> (security/groups.ts). */
  groups: string[];
}

function parseIps(values: readonly string[]): string[] {
  return values.map((v) => {
    // net.isIP takes no zone ids or brackets in the certificate sense either way.
    if (isIP(v) === 0) throw new CertsError(`--ip ${JSON.stringify(v)}: not an IPv4 or IPv6 address`);
    return v;
  });
}

const DNS_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

function parseDnsNames(values: readonly string[]): string[] {
  return values.map((v) => {
    const name = v.endsWith('.') ? v.slice(0, -1) : v;
    // A wildcard is allowed only as the whole left-most label.
    const labels = name.split('.');
    const ok = name.length <= 253 && labels.every((l, i) => DNS_LABEL.test(l) || (i === 0 && l === '*' && labels.length > 2));
    if (!ok || isIP(name) !== 0) throw new CertsError(`--dns ${JSON.stringify(v)}: not a DNS name (use --ip for addresses)`);
    return name.toLowerCase();
  });
}

function parseGroups(values: readonly string[]): string[] {
  for (const v of values) {
    if (!GROUP_NAME.test(v)) throw new CertsError(`--group ${JSON.stringify(v)}: not a group name (lowercase letters, digits, '.', '_', '-'; 1-63 characters)`);
  }
  return [...new Set(values)].sort();
}

export function parseSubjectAltNames(ips: readonly string[], dns: readonly string[], groups: readonly string[] = []): SubjectAltNames {
  const out = { ips: parseIps(ips), dns: parseDnsNames(dns), groups: parseGroups(groups) };
  if (out.ips.length + out.dns.length === 0) {
    throw new CertsError('give at least one --ip or --dns: peers (and mutual TLS) check the node against its subject alternative names');
  }
  return out;
}
