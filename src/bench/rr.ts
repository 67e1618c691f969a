// TCP request/response transactions per second, the bench's small netperf TCP_RR: run inside a
// namespace with `ip netns exec NS node dist/bench/rr.js ...`.
//
//   rr.js server --host ADDR --port PORT [--size 64] [--lifetime 120]
//   rr.js client --host ADDR --port PORT [--size 64] [--connections 1] [--seconds 5]
//
// The client opens its connections (TCP_NODELAY), then on each sends a request of `size` bytes,
// waits for the whole reply of `size` bytes and sends the next, for `seconds`; it prints one
// JSON line: transactions completed in that window, and per second. The server answers every
// full request with `size` bytes and exits by itself after `lifetime` seconds at the latest.
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export class RrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RrError';
  }
}

export interface RrResult {
  connections: number;
  size: number;
  transactions: number;
  seconds: number;
  perSecond: number;
}

interface RrArgs {
  mode: 'server' | 'client';
  host: string;
  port: number;
  size: number;
  connections: number;
  seconds: number;
  lifetime: number;
}

const CONNECT_TIMEOUT_MS = 5000;

function intIn(value: string | undefined, name: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new RrError(`${name} must be an integer ${min}..${max}, got ${String(value)}`);
  return n;
}

export function parseRrArgs(argv: readonly string[]): RrArgs {
  const [mode, ...rest] = argv;
  if (mode !== 'server' && mode !== 'client') throw new RrError('usage: rr.js server|client --host ADDR --port PORT [--size N] [--connections N] [--seconds N] [--lifetime N]');
  const flags = new Map<string, string>();
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i] as string;
    if (!key.startsWith('--') || rest[i + 1] === undefined) throw new RrError(`rr.js: bad argument ${key}`);
    flags.set(key.slice(2), rest[i + 1] as string);
  }
  const host = flags.get('host');
  if (host === undefined || net.isIP(host) === 0) throw new RrError('rr.js: --host takes an IP address');
  return {
    mode,
    host,
    port: intIn(flags.get('port'), '--port', 1, 65535),
    size: intIn(flags.get('size') ?? '64', '--size', 1, 65536),
    connections: intIn(flags.get('connections') ?? '1', '--connections', 1, 256),
    seconds: intIn(flags.get('seconds') ?? '5', '--seconds', 1, 600),
    lifetime: intIn(flags.get('lifetime') ?? '120', '--lifetime', 1, 3600),
  };
}

/** Replies `size` bytes for every full `size`-byte request on each connection. */
function serve(a: RrArgs): void {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let pending = 0;
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.length;
      const requests = Math.floor(pending / a.size);
      if (requests === 0) return;
      pending -= requests * a.size;
      socket.write(Buffer.alloc(requests * a.size, 0x72));
    });
    socket.on('error', () => socket.destroy());
  });
  server.on('error', (err) => {
    console.error(`rr server: ${err.message}`);
    process.exit(1);
  });
  server.listen(a.port, a.host, () => console.log(`listening ${a.host}:${a.port}`));
  setTimeout(() => process.exit(0), a.lifetime * 1000);
  process.once('SIGTERM', () => process.exit(0));
}

function connectOne(a: RrArgs): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: a.host, port: a.port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new RrError(`connect to ${a.host}:${a.port} timed out after ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new RrError(`connect to ${a.host}:${a.port}: ${err.message}`));
    });
  });
}

/** Request/response on every socket until the window closes; resolves with the count. */
function exchange(a: RrArgs, sockets: readonly net.Socket[]): Promise<RrResult> {
  const request = Buffer.alloc(a.size, 0x71);
  let transactions = 0;
  let open = true;
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    for (const socket of sockets) {
      let pending = 0;
      socket.on('data', (chunk: Buffer) => {
        pending += chunk.length;
        while (pending >= a.size && open) {
          pending -= a.size;
          transactions++;
          socket.write(request);
        }
      });
      socket.on('error', (err) => {
        if (open) reject(new RrError(`connection failed during the run: ${err.message}`));
      });
      socket.write(request);
    }
    setTimeout(() => {
      open = false;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      for (const s of sockets) s.destroy();
      resolve({ connections: sockets.length, size: a.size, transactions, seconds, perSecond: transactions / seconds });
    }, a.seconds * 1000);
  });
}

async function client(a: RrArgs): Promise<void> {
  const sockets = await Promise.all(Array.from({ length: a.connections }, () => connectOne(a)));
  const result = await exchange(a, sockets);
  console.log(JSON.stringify(result));
}

/** The client's JSON line -> its result. */
export function parseRrResult(output: string): RrResult {
  const line = output.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (line === undefined) throw new RrError(`rr client printed no result: ${output.trim().slice(-300)}`);
  const v = JSON.parse(line) as Partial<RrResult>;
  const fields = [v.connections, v.size, v.transactions, v.seconds, v.perSecond];
  if (fields.some((f) => typeof f !== 'number' || !Number.isFinite(f))) throw new RrError(`rr client result is incomplete: ${line}`);
  return v as RrResult;
}

async function rrMain(argv: readonly string[]): Promise<void> {
  const a = parseRrArgs(argv);
  if (a.mode === 'server') serve(a);
  else await client(a);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  rrMain(process.argv.slice(2)).then(
    () => {
      // the server keeps running until its lifetime or SIGTERM; the client's sockets are closed
    },
    (err: unknown) => {
      console.error(`rr: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
