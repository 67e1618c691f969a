// Secure contexts from the node's TLS material, for the listeners and for outbound connections:
// the one place that combines certificate, key and CA with the policy (tls-policy.ts).
//   - server: our certificate and key; the CA only when client certificates are asked for (it
//     verifies them); set again on every reload (setSecureContext), so open connections stay.
//   - client: our CA verifies the peer's server certificate; our certificate and key go along as
//     client certificate (peers with mutual TLS need it). Built once per material: given
//     ca/cert/key per connection, node would parse the key, the chain and the CA at every dial.
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { clientTlsPolicy, serverTlsPolicy } from './tls-policy.js';

/** What a server presents: certificate and key (security/tls-bundle.ts loads and checks them). */
export interface ServerTls {
  cert: Buffer;
  key: Buffer;
}

/** What a client trusts and presents: the CA, and our certificate and key when we have them. */
export interface ClientTls {
  ca: Buffer;
  /** Our certificate and key, presented as client certificate. */
  cert?: Buffer;
  key?: Buffer;
}

/** Client certificates: asked for when `request`, never enforced by the handshake (per route instead, see client-cert.ts). */
export interface ClientCertRequest {
  requestCert: boolean;
  /** Verifies client certificates. */
  ca: Buffer;
}

/** The options of a server's secure context: at start, and again on every reload (setSecureContext). */
export function serverContextOptions(tls: ServerTls, ca?: Buffer): SecureContextOptions {
  return { cert: tls.cert, key: tls.key, ...(ca ? { ca } : {}), ...serverTlsPolicy() };
}

/** Server options that ask for a client certificate without refusing the handshake when it is missing or bad. */
export function clientCertOptions(request: ClientCertRequest | undefined): { requestCert?: boolean; rejectUnauthorized?: boolean } {
  return request?.requestCert ? { requestCert: true, rejectUnauthorized: false } : {};
}

/** One secure context for every outbound connection made with this material. */
export function clientSecureContext(tls: ClientTls): SecureContext {
  return createSecureContext({ ca: tls.ca, ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}), ...clientTlsPolicy() });
}
