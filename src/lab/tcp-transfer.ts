// Bulk TCP through the mesh, written in Node, run inside a lab namespace:
//   tcp-transfer.js server HOST PORT [TIMEOUT_S]   accept one connection, print {bytes, sha256}
//   tcp-transfer.js client HOST PORT BYTES [RATE]  send BYTES of random data, print {bytes, sha256, seconds, mbps}
// RATE (bytes per second) paces the client, so one transfer can span a long test (nodes
// replaced underneath it); without it the client sends as fast as TCP takes it.
// Both ends print one JSON line, so a caller can compare the checksums. Both give up (exit 3)
// after a timeout: the server after TIMEOUT_S (default 60), the client 60 s after the time its
// pacing needs.
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHUNK = 64 * 1024;
const SLACK_S = 60;
/** Paced sends happen on this tick; small enough that 64 KiB/s goes out in ~1.3 KB steps. */
const TICK_MS = 20;

function server(host: string, port: number, timeoutS: number): void {
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
  setTimeout(() => process.exit(3), timeoutS * 1000).unref();
}

/** Sends as fast as the socket drains. */
function pumpUnpaced(sock: net.Socket, total: number, onChunk: (b: Buffer) => void): void {
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      const chunk = randomBytes(Math.min(CHUNK, total - sent));
      onChunk(chunk);
      sent += chunk.length;
      if (!sock.write(chunk)) return void sock.once('drain', pump);
    }
    sock.end();
  };
  pump();
}

/** Sends so that by t seconds after connect rate*t bytes have gone, never ahead of the socket. */
function pumpPaced(sock: net.Socket, total: number, rate: number, onChunk: (b: Buffer) => void): void {
  const started = Date.now();
  let sent = 0;
  let draining = false;
  const tick = (): void => {
    if (draining) return;
    const due = Math.min(total, Math.floor((rate * (Date.now() - started)) / 1000));
    while (sent < due) {
      const chunk = randomBytes(Math.min(CHUNK, due - sent));
      onChunk(chunk);
      sent += chunk.length;
      if (!sock.write(chunk)) {
        draining = true;
        sock.once('drain', () => (draining = false));
        return;
      }
    }
    if (sent >= total) {
      clearInterval(timer);
      sock.end();
    }
  };
  const timer = setInterval(tick, TICK_MS);
}

function client(host: string, port: number, total: number, rate: number | undefined): void {
  const hash = createHash('sha256');
  let sent = 0;
  const onChunk = (b: Buffer): void => {
    hash.update(b);
    sent += b.length;
  };
  const started = process.hrtime.bigint();
  const sock = net.connect(port, host);
  sock.on('connect', () => (rate === undefined ? pumpUnpaced(sock, total, onChunk) : pumpPaced(sock, total, rate, onChunk)));
  sock.on('close', () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const line = JSON.stringify({ bytes: sent, sha256: hash.digest('hex'), seconds, mbps: (sent * 8) / seconds / 1e6 }) + '\n';
    // A paced client's tick timer must not keep the process alive after the socket is gone.
    process.stdout.write(line, () => process.exit(0));
  });
  sock.on('error', (err) => {
    process.stderr.write(`transfer failed: ${err.message}\n`);
    process.exit(1);
  });
  setTimeout(() => process.exit(3), clientTimeoutS(total, rate) * 1000).unref();
}

/** How long a client may run: what its pacing needs plus a minute. Shared with MeshLab. */
export function clientTimeoutS(bytes: number, rate: number | undefined): number {
  return Math.ceil(rate === undefined ? SLACK_S : bytes / rate + SLACK_S);
}

function positive(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive number: ${s}`);
  return n;
}

function main(argv: string[]): void {
  const [mode, host, port, a, b] = argv;
  if (mode === 'server' && host && port) server(host, Number(port), positive(a) ?? SLACK_S);
  else if (mode === 'client' && host && port && a) client(host, Number(port), Number(a), positive(b));
  else {
    process.stderr.write('usage: tcp-transfer server HOST PORT [TIMEOUT_S] | client HOST PORT BYTES [RATE_BYTES_PER_S]\n');
    process.exit(2);
  }
}

// Imported by MeshLab for clientTimeoutS(); runs only as a script.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
