// Bootstrap URLs whose host is a DNS name. In Kubernetes a headless Service gives one name with
// an A/AAAA record per pod; etcd, Consul and Cassandra find their peers the same way: resolve
// the name, treat every address as a candidate, resolve again as pods come and go. A candidate
// is dialled at its address while TLS still checks the URL's host (http-client.ts `address`).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Every address a host name has now (A and AAAA). Throws when it has none or the lookup fails. */
export type Resolve = (host: string) => Promise<string[]>;

/** The system resolver (getaddrinfo: resolv.conf search domains, /etc/hosts), as the pod sees it. */
export const systemResolve: Resolve = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** Where a bootstrap attempt knocks: the URL as configured, and the address to dial (a named host's record). */
export interface Candidate {
  url: string;
  address?: string;
}

/** A bootstrap name that did not resolve: logged and retried, never fatal. */
class ResolveFailed extends Error {
  constructor(
    readonly host: string,
    cause: string,
  ) {
    super(`${host} did not resolve: ${cause}`);
    this.name = 'ResolveFailed';
  }
}

/** The URL's host, an IPv6 literal without its brackets ("" when the URL does not parse). */
export function urlHost(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return '';
  }
}

/** The URL's host when it is a DNS name (not an address literal), else null. */
export function namedHost(url: string): string | null {
  const host = urlHost(url);
  return host === '' || isIP(host) !== 0 ? null : host;
}

/** The port a URL dials (https default 443). */
export function urlPort(url: string): number {
  try {
    const u = new URL(url);
    return Number(u.port || (u.protocol === 'http:' ? 80 : 443));
  } catch {
    return 0;
  }
}

/**
 * The candidates of one bootstrap URL: itself when its host is an address, else one per address
 * the name has now (sorted, so every attempt walks them in the same order).
 */
export async function candidatesOf(url: string, resolve: Resolve): Promise<Candidate[]> {
  const host = namedHost(url);
  if (host === null) return [{ url }];
  let addresses: string[];
  try {
    addresses = await resolve(host);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new ResolveFailed(host, typeof code === 'string' ? code : err instanceof Error ? err.message : String(err));
  }
  return [...new Set(addresses)].sort().map((address) => ({ url, address }));
}

/** "url" or "url (address)", for log lines that say what was tried. */
export function describe(c: Candidate): string {
  return c.address === undefined ? c.url : `${c.url} (${c.address})`;
}
