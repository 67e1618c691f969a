// Fast channels received in this worker. The main process accepts connections on the channel
// port (node/channel-port.ts) and hands each raw TCP socket over before TLS begins; here the
// worker does the handshake (the node's certificate, the TLS policy, a client certificate asked
// for as on the API port), reads the upgrade request and hands it to its receive path, whose
// token check is main's (upgrade-checks.ts): one place decides who may open a channel.
// Packets then go from the channel into this worker's own TUN queue, and the kernel sends the
// replies back through the same queue to this worker: one process per hop.
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { DataPlaneSettings } from '../contract.js';
import type { ReceivePath } from '../receive.js';
import type { LevelLogger } from '../../log/logger.js';
import { serverTlsPolicy } from '../../security/tls-policy.js';

/** A channel's TLS handshake and upgrade request must be done within this. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export class ChannelServer {
  private readonly server: https.Server;

  constructor(
    settings: DataPlaneSettings,
    rx: ReceivePath,
    private readonly log: LevelLogger,
  ) {
    const asksCert = settings.clientAuth !== undefined && settings.clientAuth !== 'off';
    this.server = https.createServer(
      {
        ...contextOptions(settings),
        // As on the API port: asked for, judged by main with a reason (security/client-cert.ts).
        ...(asksCert ? { requestCert: true, rejectUnauthorized: false } : {}),
        handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
        headersTimeout: HANDSHAKE_TIMEOUT_MS,
        requestTimeout: HANDSHAKE_TIMEOUT_MS,
      },
      notFound,
    );
    this.server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => rx.handleUpgrade(req, socket, head));
    this.server.on('tlsClientError', (err) => this.log.debug('channel handshake failed', { error: err.message }));
  }

  /** A connection main accepted on the channel port. */
  accept(socket: Socket): void {
    this.server.emit('connection', socket);
  }

  /** Reloaded TLS material: new channels use it, open ones stay. */
  setSettings(settings: DataPlaneSettings): void {
    this.server.setSecureContext(contextOptions(settings));
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }
}

function contextOptions(s: DataPlaneSettings): SecureContextOptions {
  return { cert: s.certPem, key: s.keyPem, ca: s.caPem, ...serverTlsPolicy() };
}

/** The channel port serves upgrades only. */
function notFound(_req: IncomingMessage, res: ServerResponse): void {
  const body = JSON.stringify({ error: 'Not Found', reason: 'channel_port_upgrade_only' });
  res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body);
}
