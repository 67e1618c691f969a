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
 * One secure context per settings message: parsing the CA, certificate and key for every
 * connection cost each dial a millisecond or more (a mesh's worth of channels opening at once).
 */
const contexts = new WeakMap<PeerTlsSettings, SecureContext>();

function contextOf(settings: PeerTlsSettings): SecureContext {
  let context = contexts.get(settings);
  if (context === undefined) {
    context = createSecureContext({
      ca: settings.caPem,
      ...clientTlsPolicy(),
      ...(settings.certPem && settings.keyPem ? { cert: settings.certPem, key: settings.keyPem } : {}),
    });
    contexts.set(settings, context);
  }
  return context;
}

export function peerTlsOptions(settings: PeerTlsSettings, host: string): ConnectionOptions {
  return {
    secureContext: contextOf(settings),
    ...clientTlsPolicy(),
    // SNI must not carry an IP address (RFC 6066).
    ...(isIP(host) === 0 ? { servername: host } : {}),
    checkServerIdentity: settings.verifyHostname ? checkServerIdentity : () => undefined,
  };
}
