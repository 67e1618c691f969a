// The HTTPS listener: the secure context from security/tls-contexts.ts (TLS >= 1.2 with
// forward-secret AEAD suites only), cert and key from config, checked to be a pair before we
// listen (security/tls-bundle.ts) so a misconfiguration is a clear startup error, not a failed
// handshake.
import https from 'node:https';
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
  return server;
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
