// A closed API server serves nobody: not even a connection that was still in its TLS handshake
// when the server closed. Real TLS over a Unix socket, a real Koa app, a raw client socket.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import Koa from 'koa';
import { closeServer, createHttpsServer } from '../../src/api/server.js';
import { makeLabPki } from '../../src/lab/pki.js';

/** What a GET / sent on `socket` (TLS started on it now) got back: the body, or the error. */
function getOver(socket: Socket, ca: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const tls = tlsConnect({ socket, ca, servername: 'peer', checkServerIdentity: () => undefined });
    let answer = '';
    const timer = setTimeout(() => {
      tls.destroy();
      resolve('no answer in 3 s');
    }, 3000);
    tls.on('secureConnect', () => tls.write('GET / HTTP/1.1\r\nHost: peer\r\nConnection: close\r\n\r\n'));
    tls.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    tls.on('error', (err) => {
      clearTimeout(timer);
      resolve(`error: ${err.message}`);
    });
    tls.on('close', () => {
      clearTimeout(timer);
      resolve(answer === '' ? 'closed' : answer);
    });
  });
}

describe('api/server closeServer', function () {
  this.timeout(20_000);
  let dir: string;
  let cert: { cert: Buffer; key: Buffer; ca: Buffer };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tunmesh-api-close-'));
    const pki = await makeLabPki(dir);
    const files = await pki.issue('peer', ['198.18.0.2']);
    cert = { cert: readFileSync(files.certPath), key: readFileSync(files.keyPath), ca: readFileSync(pki.caPath) };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function serve(path: string): Promise<ReturnType<typeof createHttpsServer>> {
    const app = new Koa();
    app.use((ctx) => {
      ctx.body = 'served by the old server';
    });
    const server = createHttpsServer({ cert: cert.cert, key: cert.key, notAfter: 0 }, app);
    return new Promise((resolve) => server.listen(path, () => resolve(server)));
  }

  it('serves a connection that was open before (the control)', async () => {
    const path = join(dir, 'control.sock');
    const server = await serve(path);
    const socket = netConnect(path);
    await new Promise((r) => socket.once('connect', r));
    expect(await getOver(socket, cert.ca)).to.contain('served by the old server');
    await closeServer(server);
  });

  it('ends a connection that was accepted but had not begun its handshake at close', async () => {
    const path = join(dir, 'closing.sock');
    const server = await serve(path);
    const socket = netConnect(path);
    await new Promise((r) => socket.once('connect', r));
    // The server has accepted it (its 'connection' event) before we close.
    await new Promise((r) => setTimeout(r, 50));
    await closeServer(server, 1000);
    const answer = await getOver(socket, cert.ca);
    expect(answer).to.not.contain('served by the old server');
  });
});
