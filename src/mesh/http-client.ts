// Node-to-node HTTPS requests. Peers are verified against the configured CA (or, as in the
// original, against our own certificate when no CA is set); hostname checks are off unless
// configured, because advertise URLs are dynamic addresses. One keep-alive agent per node; our
// certificate goes along as client certificate (peers with mutual TLS need it). setTls() swaps
// the agent for reloaded material: requests in flight finish on the old one. A peer whose server
// certificate is on the deny list is refused (it may come back under a new id and URL).
import https from 'node:https';
import type { OutgoingHttpHeaders } from 'node:http';
import { isIP, type LookupFunction } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { clientTlsPolicy } from '../security/tls-policy.js';
import { clientSecureContext, type ClientTls } from '../security/tls-contexts.js';

export interface HttpClientOptions extends ClientTls {
  verifyHostname: boolean;
  timeoutMs: number;
  /** True for a server certificate fingerprint (SHA-256, "AB:CD:..") we must not talk to. */
  refusesServer?(fingerprint256: string): boolean;
}

/** Old agents' idle keep-alive sockets are closed this long after a reload. */
const OLD_AGENT_GRACE_MS = 30_000;

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export class PeerUnreachable extends Error {
  constructor(
    url: string,
    cause: string,
    /** No answer within the timeout (the peer may only be slow), rather than a refused or broken connection. */
    readonly timedOut = false,
  ) {
    super(`${url}: ${cause}`);
    this.name = 'PeerUnreachable';
  }
}

/**
 * TLS sessions kept for resumption, one per peer: a reconnect (after an idle close, a timeout
 * or a peer's restart of its listener) resumes instead of paying a full handshake. Node's default
 * is 100, fewer than the peers of a large mesh.
 */
const TLS_SESSION_CACHE = 2048;

const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export class HttpClient {
  agent: https.Agent;
  /**
   * For requests pinned to an address (a bootstrap name's record): no keep-alive, because the
   * agent pools sockets by host name, and one kept for one address must not carry a request
   * meant for another.
   */
  private pinnedAgent: https.Agent;

  constructor(private readonly opts: HttpClientOptions) {
    this.agent = this.newAgent(opts);
    this.pinnedAgent = this.newAgent(opts, false);
  }

  private newAgent(tls: ClientTls, keepAlive = true): https.Agent {
    // One secure context for every connection of the agent: given ca/cert/key, it would build
    // (parse the key, the chain and the CA) a new one for each socket it opens.
    const secureContext = clientSecureContext(tls);
    return new https.Agent({
      keepAlive,
      maxSockets: 8,
      maxCachedSessions: TLS_SESSION_CACHE,
      secureContext,
      ...clientTlsPolicy(),
      rejectUnauthorized: true,
      checkServerIdentity: (host, cert) => this.checkServer(host, cert),
    });
  }

  /** During the handshake, before anything is sent: a denied server certificate, then (when configured) the hostname. */
  private checkServer(host: string, cert: PeerCertificate): Error | undefined {
    if (cert.fingerprint256 && this.opts.refusesServer?.(cert.fingerprint256)) {
      return new Error(`its certificate ${cert.fingerprint256.replace(/:/g, '').slice(0, 16).toLowerCase()} is on the deny list`);
    }
    return this.opts.verifyHostname ? checkServerIdentity(host, cert) : undefined;
  }

  /** New TLS material for new connections. */
  setTls(tls: ClientTls): void {
    const old = [this.agent, this.pinnedAgent];
    this.agent = this.newAgent(tls);
    this.pinnedAgent = this.newAgent(tls, false);
    setTimeout(() => old.forEach((a) => a.destroy()), OLD_AGENT_GRACE_MS).unref();
  }

  /**
   * One request; `timeoutMs` (default: the configured request timeout) bounds each wait for the
   * socket. With `address`, the connection goes to that address while the URL's host stays the
   * TLS name (SNI, and the hostname check when configured).
   */
  request(method: 'GET' | 'POST', url: string, body: string | undefined, headers: OutgoingHttpHeaders = {}, timeoutMs = this.opts.timeoutMs, address?: string): Promise<HttpResponse> {
    const payload = body === undefined ? undefined : Buffer.from(body);
    const allHeaders: OutgoingHttpHeaders = { ...headers };
    if (payload) {
      allHeaders['content-type'] = 'application/json';
      allHeaders['content-length'] = payload.length;
    }
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const target = address === undefined ? { agent: this.agent } : { agent: this.pinnedAgent, lookup: pinnedLookup(address) };
      const req = https.request(url, { method, headers: allHeaders, timeout: timeoutMs, ...target }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('response too large'));
          else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (err) => reject(new PeerUnreachable(url, err.message)));
      });
      req.on('timeout', () => {
        timedOut = true;
        req.destroy(new Error(`timed out after ${Math.round(timeoutMs)} ms`));
      });
      req.on('error', (err) => reject(new PeerUnreachable(url, err.message, timedOut)));
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
    this.pinnedAgent.destroy();
  }
}

/** A lookup that answers `address` for any name (net.connect may ask for one address or all). */
function pinnedLookup(address: string): LookupFunction {
  const family = isIP(address);
  return (_host, options, callback) => {
    if (options.all) (callback as unknown as (err: null, all: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
}
