// Node-to-node HTTPS requests. Peers are verified against the configured CA (or, as in the
// original, against our own certificate when no CA is set); hostname checks are off unless
// configured, because advertise URLs are dynamic addresses. One keep-alive agent per node.
import https from 'node:https';
import type { OutgoingHttpHeaders } from 'node:http';
import { clientTlsPolicy } from '../tls/policy.js';

export interface HttpClientOptions {
  ca: Buffer;
  verifyHostname: boolean;
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export class PeerUnreachable extends Error {
  constructor(url: string, cause: string) {
    super(`${url}: ${cause}`);
    this.name = 'PeerUnreachable';
  }
}

const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export class HttpClient {
  readonly agent: https.Agent;

  constructor(private readonly opts: HttpClientOptions) {
    this.agent = new https.Agent({
      keepAlive: true,
      maxSockets: 8,
      ca: opts.ca,
      ...clientTlsPolicy(),
      rejectUnauthorized: true,
      ...(opts.verifyHostname ? {} : { checkServerIdentity: () => undefined }),
    });
  }

  request(method: 'GET' | 'POST', url: string, body: string | undefined, headers: OutgoingHttpHeaders = {}): Promise<HttpResponse> {
    const payload = body === undefined ? undefined : Buffer.from(body);
    const allHeaders: OutgoingHttpHeaders = { ...headers };
    if (payload) {
      allHeaders['content-type'] = 'application/json';
      allHeaders['content-length'] = payload.length;
    }
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method, agent: this.agent, headers: allHeaders, timeout: this.opts.timeoutMs }, (res) => {
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
      req.on('timeout', () => req.destroy(new Error(`timed out after ${this.opts.timeoutMs} ms`)));
      req.on('error', (err) => reject(new PeerUnreachable(url, err.message)));
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
