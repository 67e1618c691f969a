// The HTTPS listener: the secure context from security/tls-contexts.ts (TLS >= 1.2 with
// forward-secret AEAD suites only), cert and key from config, checked to be a pair before we
// listen (security/tls-bundle.ts) so a misconfiguration is a clear startup error, not a failed
// handshake.
import https from 'node:https';
import type { Socket } from 'node:net';
import type Koa from 'koa';
import { TlsConfigError, type TlsMaterial } from '../security/tls-bundle.js';
import { clientCertOptions, serverContextOptions, type ClientCertRequest } from '../security/tls-contexts.js';

export function createHttpsServer(tls: TlsMaterial, app: Koa, clientCerts?: ClientCertRequest): https.Server {
  const server = https.createServer(
    {
      ...serverContextOptions(tls, clientCerts?.ca),
      ...clientCertOptions(clientCerts),
      // Node-to-node traffic is long-lived; keep idle keep-alive sockets a while.
      keepAliveTimeout: 65_000,
      requestTimeout: 30_000,
      headersTimeout: 10_000,
    },
    app.callback(),
  );
  trackSockets(server);
  return server;
}

/**
 * Every TCP connection a server accepted and has not seen close, from the accept on: the http
 * layer's own list (closeAllConnections) only holds a connection once its TLS handshake is done,
 * so a connection still in its handshake at close would go on to be served by a closed server,
 * and a peer's keep-alive agent would keep talking to it (a node that restarted under a new id
 * then answered with the old one).
 */
const accepted = new WeakMap<https.Server, Set<Socket>>();

function trackSockets(server: https.Server): void {
  const open = new Set<Socket>();
  accepted.set(server, open);
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
}

/**
 * Stops listening and ends every connection the server accepted, whatever its state (handshake,
 * idle keep-alive, in a request). Resolves once the server closed, or after `boundMs`.
 */
export function closeServer(server: https.Server, boundMs = 3000): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
    for (const socket of accepted.get(server) ?? []) socket.destroy();
    setTimeout(resolve, boundMs).unref();
  });
}

export function listen(server: https.Server, port: number, host?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'another process is listening on it' : err.code === 'EACCES' ? 'permission denied' : err.message;
      const where = host === undefined ? `port ${port} (control_api.listen_port)` : `${host} port ${port} (tunmesh.control_api.listen_address, control_api.listen_port)`;
      const whyAddress = err.code === 'EADDRNOTAVAIL' ? 'no interface of this host has that address' : why;
      reject(new TlsConfigError(`cannot listen on ${where}: ${whyAddress}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
