// The client certificate a peer presented on the node-to-node surface, and the rules it must
// meet (tunmesh.tls.client_auth). The server asks for a certificate but does not refuse the
// handshake itself (rejectUnauthorized: false): /health, /metrics and node_info share the port
// and stay open, so the check is per route, here, with a reason the auth-failure counter keeps.
//
//   inspect(): off -> nothing; no certificate -> `client_cert_missing` (require only);
//              not verified by our CA (another CA, expired) -> `client_cert_untrusted`;
//              its SHA-256 fingerprint on the deny list -> `denied`.
//   bind():    identity binding: the host of the URL the node claims (registration) or was
//              registered with (every later request) must be one of the certificate's SANs,
//              else `san_mismatch`. Holding the cluster secret no longer lets a node speak for
//              another node's URL.
import { isIP } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { groupsOfUris } from './groups.js';

export type CertRefusalReason = 'client_cert_missing' | 'client_cert_untrusted' | 'san_mismatch' | 'denied';

/** What we keep of a peer's certificate: enough to bind, deny and show it; no key material. */
export interface ClientCert {
  /** SHA-256 of the DER, lowercase hex without separators. */
  fingerprint: string;
  /** IP SANs (normalized) and DNS SANs (lowercase). */
  ips: string[];
  dns: string[];
  /** Firewall groups the CA gave it (URI SANs, security/groups.ts). */
  groups: string[];
  /** Unix seconds. */
  notAfter: number;
  subject: string;
}

/** A refusal of the client certificate; 401 when none or an untrusted one came, 403 when it is known and refused. */
export class CertRefusal extends Error {
  override readonly name = 'CertRefusal';

  constructor(
    readonly reason: CertRefusalReason,
    message: string,
  ) {
    super(`${reason}: ${message}`);
  }

  get status(): number {
    return this.reason === 'denied' || this.reason === 'san_mismatch' ? 403 : 401;
  }
}

/** Whether the API asks for client certificates (`tunmesh.tls.client_auth`). */
export type ClientAuthMode = 'off' | 'request' | 'require';

/** The part of the deny list the certificate check needs. */
export interface FingerprintDenial {
  deniesFingerprint(fingerprint: string): boolean;
}

export class ClientCertPolicy {
  constructor(
    readonly mode: ClientAuthMode,
    private readonly deny: FingerprintDenial,
  ) {}

  /** The verified certificate of the connection (null: none asked or, with request, none sent). Throws CertRefusal. */
  inspect(socket: unknown): ClientCert | null {
    return this.mode === 'off' ? null : this.judge(presentedCert(socket));
  }

  /** inspect() for a certificate read elsewhere (a worker's connection: presentedCert() there). */
  judge(presented: PresentedCert | null): ClientCert | null {
    if (this.mode === 'off') return null;
    if (presented === null) {
      if (this.mode === 'require') throw new CertRefusal('client_cert_missing', 'this node requires a client certificate (tunmesh.tls.client_auth: require)');
      return null;
    }
    if (!presented.authorized) throw new CertRefusal('client_cert_untrusted', `client certificate ${short(presented.cert.fingerprint)} not accepted: ${presented.error}`);
    if (this.deny.deniesFingerprint(presented.cert.fingerprint)) throw new CertRefusal('denied', `client certificate ${short(presented.cert.fingerprint)} is denied`);
    return presented.cert;
  }

  /** Identity binding: `url`'s host must be a SAN of `cert` (no certificate: nothing to bind). */
  bind(cert: ClientCert | null, url: string, who: string): void {
    if (cert === null) return;
    const host = hostOf(url);
    if (host !== null && certCovers(cert, host)) return;
    throw new CertRefusal('san_mismatch', `node ${who} claims ${url} but its certificate names ${[...cert.ips, ...cert.dns].join(', ') || 'no SAN'}`);
  }
}

export interface PresentedCert {
  cert: ClientCert;
  authorized: boolean;
  error: string;
}

/** Per connection: a certificate does not change within one, and keep-alive carries many requests. */
const presented = new WeakMap<object, PresentedCert | null>();

/** The peer's certificate, whether our CA verified it, and why not. Null when none was sent. */
export function presentedCert(socket: unknown): PresentedCert | null {
  const tls = socket as Partial<TLSSocket> | null | undefined;
  if (tls === null || tls === undefined || typeof tls.getPeerCertificate !== 'function') return null;
  const known = presented.get(tls);
  if (known !== undefined) return known;
  const peer = tls.getPeerCertificate();
  const error = tls.authorizationError;
  const found = peer === null || typeof peer !== 'object' || !peer.fingerprint256
    ? null
    : { cert: toClientCert(peer), authorized: tls.authorized === true, error: error === undefined ? 'not verified' : String(error) };
  presented.set(tls, found);
  return found;
}

export function toClientCert(peer: PeerCertificate): ClientCert {
  const ips: string[] = [];
  const dns: string[] = [];
  const uris: string[] = [];
  for (const entry of (peer.subjectaltname ?? '').split(/,\s*/)) {
    if (entry.startsWith('IP Address:')) ips.push(normalizeIp(entry.slice('IP Address:'.length)));
    else if (entry.startsWith('DNS:')) dns.push(entry.slice(4).toLowerCase());
    else if (entry.startsWith('URI:')) uris.push(entry.slice(4));
  }
  return {
    fingerprint: normalizeFingerprint(peer.fingerprint256),
    ips,
    dns,
    groups: groupsOfUris(uris),
    notAfter: Math.floor(new Date(peer.valid_to).getTime() / 1000),
    subject: peer.subject?.CN ? `CN=${String(peer.subject.CN)}` : '',
  };
}

/** "AB:CD:..." or "abcd..." -> "abcd...". */
export function normalizeFingerprint(fp: string): string {
  return fp.replace(/:/g, '').toLowerCase();
}

export const short = (fingerprint: string): string => fingerprint.slice(0, 16);

function normalizeIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  try {
    return new URL(`https://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

function hostOf(url: string): string | null {
  try {
    const host = new URL(url).hostname;
    return host.startsWith('[') ? host.slice(1, -1) : host.toLowerCase();
  } catch {
    return null;
  }
}

/** IP hosts match IP SANs; names match DNS SANs exactly or one leftmost-label wildcard. */
export function certCovers(cert: ClientCert, host: string): boolean {
  if (isIP(host) !== 0) return cert.ips.includes(normalizeIp(host));
  return cert.dns.some((name) => name === host || (name.startsWith('*.') && host.endsWith(name.slice(1)) && !host.slice(0, -name.length + 1).includes('.')));
}
