// Bulk TCP through the mesh, written in Node, run inside a lab namespace:
//   tcp-transfer.js server HOST PORT            accept one connection, print {bytes, sha256}
//   tcp-transfer.js client HOST PORT BYTES      send BYTES of random data, print {bytes, sha256, seconds, mbps}
// Both ends print one JSON line, so a caller can compare the checksums.
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

const CHUNK = 64 * 1024;
const TIMEOUT_MS = 60_000;

function server(host: string, port: number): void {
  const srv = net.createServer((sock) => {
    const hash = createHash('sha256');
    let bytes = 0;
    sock.on('data', (d: Buffer) => {
      bytes += d.length;
      hash.update(d);
    });
    sock.on('end', () => {
      process.stdout.write(JSON.stringify({ bytes, sha256: hash.digest('hex') }) + '\n');
      sock.end();
      srv.close();
    });
  });
  srv.listen(port, host, () => process.stdout.write(JSON.stringify({ listening: port }) + '\n'));
  setTimeout(() => process.exit(3), TIMEOUT_MS).unref();
}

function client(host: string, port: number, total: number): void {
  const hash = createHash('sha256');
  const started = process.hrtime.bigint();
  const sock = net.connect(port, host);
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const chunk = randomBytes(Math.min(CHUNK, total - sent));
      hash.update(chunk);
      sent += chunk.length;
      if (!sock.write(chunk)) return void sock.once('drain', pump);
    }
    sock.end();
  };
  sock.on('connect', pump);
  sock.on('close', () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    process.stdout.write(JSON.stringify({ bytes: sent, sha256: hash.digest('hex'), seconds, mbps: (sent * 8) / seconds / 1e6 }) + '\n');
  });
  sock.on('error', (err) => {
    process.stderr.write(`transfer failed: ${err.message}\n`);
    process.exit(1);
  });
  setTimeout(() => process.exit(3), TIMEOUT_MS).unref();
}

const [mode, host, port, bytes] = process.argv.slice(2);
if (mode === 'server' && host && port) server(host, Number(port));
else if (mode === 'client' && host && port && bytes) client(host, Number(port), Number(bytes));
else {
  process.stderr.write('usage: tcp-transfer server HOST PORT | client HOST PORT BYTES\n');
  process.exit(2);
}
