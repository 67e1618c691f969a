// Client TLS options toward peers, shared by the fast channel and the legacy sender: our CA, the
// TLS policy (src/tls/policy.ts), our certificate as client certificate (for peers with mutual TLS), and hostname
// checks only when configured (advertise URLs are often bare IPs). Read at every connection, so
// reloaded material (a new settings message) applies to new connections only.
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import type { DataPlaneSettings } from './contract.js';
import { clientTlsPolicy } from '../tls/policy.js';

export function peerTlsOptions(settings: Pick<DataPlaneSettings, 'caPem' | 'verifyHostname'> & Partial<Pick<DataPlaneSettings, 'certPem' | 'keyPem'>>, host: string): ConnectionOptions {
  return {
    ca: settings.caPem,
    ...clientTlsPolicy(),
    ...(settings.certPem && settings.keyPem ? { cert: settings.certPem, key: settings.keyPem } : {}),
    // SNI must not carry an IP address (RFC 6066).
    ...(isIP(host) === 0 ? { servername: host } : {}),
    checkServerIdentity: settings.verifyHostname ? checkServerIdentity : () => undefined,
  };
}
