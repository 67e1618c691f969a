// Client TLS options toward peers, shared by the fast channel and the legacy sender: our CA, the
// TLS policy (tls-policy.ts), our certificate as client certificate (for peers with mutual TLS), and hostname
// checks only when configured (advertise URLs are often bare IPs). Read at every connection, so
// reloaded material (a new settings message) applies to new connections only.
import { isIP } from 'node:net';
import { checkServerIdentity, createSecureContext, type ConnectionOptions, type SecureContext } from 'node:tls';
import { clientTlsPolicy } from './tls-policy.js';

/** The TLS part of the data plane's settings (dataplane/contract.ts DataPlaneSettings): PEM text. */
export interface PeerTlsSettings {
  caPem: string;
  verifyHostname: boolean;
  certPem?: string;
  keyPem?: string;
}

/**
 * One secure context per TLS material: parsing the CA, certificate and key for every connection
 * cost each dial a millisecond or more (a mesh's worth of channels opening at once). A reload
 * changes a worker's settings in place (workers/worker.ts), so the context is rebuilt when the
 * PEM text it was made from differs; keyed by the object alone, it kept the old certificate.
 */
interface BuiltContext {
  caPem: string;
  certPem: string | undefined;
  keyPem: string | undefined;
  context: SecureContext;
}
const contexts = new WeakMap<PeerTlsSettings, BuiltContext>();

export function clientContextOf(settings: PeerTlsSettings): SecureContext {
  const built = contexts.get(settings);
  if (built !== undefined && built.caPem === settings.caPem && built.certPem === settings.certPem && built.keyPem === settings.keyPem) return built.context;
  const context = createSecureContext({
    ca: settings.caPem,
    ...clientTlsPolicy(),
    ...(settings.certPem && settings.keyPem ? { cert: settings.certPem, key: settings.keyPem } : {}),
  });
  contexts.set(settings, { caPem: settings.caPem, certPem: settings.certPem, keyPem: settings.keyPem, context });
  return context;
}

export function peerTlsOptions(settings: PeerTlsSettings, host: string): ConnectionOptions & { secureContext: SecureContext } {
  return {
    secureContext: clientContextOf(settings),
    ...clientTlsPolicy(),
    // SNI must not carry an IP address (RFC 6066).
    ...(isIP(host) === 0 ? { servername: host } : {}),
    checkServerIdentity: settings.verifyHostname ? checkServerIdentity : () => undefined,
  };
}
