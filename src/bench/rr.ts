// TCP request/response transactions per second, the bench's small netperf TCP_RR: run inside a
// namespace with `ip netns exec NS node dist/bench/rr.js ...`.
//
//   rr.js server --host ADDR --port PORT [--size 64] [--lifetime 120] [--tls-cert PEM --tls-key PEM]
//   rr.js client --host ADDR --port PORT [--size 64] [--connections 1] [--seconds 5]
//                [--interval MS] [--tls-ca PEM --tls-name NAME]
//
// The client opens its connections (TCP_NODELAY), then on each sends a request of `size` bytes,
// waits for the whole reply of `size` bytes and sends the next, for `seconds`; it prints one
// JSON line: transactions completed in that window, and per second. With `--interval` it is
// idle between transactions instead (one connection, one request every MS ms) and the line also
// holds the round trips' median and p99: what one Node process per hop costs on this machine when
// it wakes for a lone message, the floor under tunmesh's idle round trip (bench/README.md). The
// server answers every full request with `size` bytes and exits by itself after `lifetime`
// seconds at the latest. With the TLS options both ends speak TLS (the lab's certificate,
// checked against its CA and name), as tunmesh's channels do.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { median, percentile } from './stats.js';

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
  /** With --interval: the round trips, ms. */
  rttMedianMs?: number;
  rttP99Ms?: number;
}

interface RrArgs {
  mode: 'server' | 'client';
  host: string;
  port: number;
  size: number;
  connections: number;
  seconds: number;
  lifetime: number;
  /** Client: ms idle between transactions (0: back to back). */
  interval: number;
  /** Server: TLS with this certificate chain and key. */
  tlsCert?: string;
  tlsKey?: string;
  /** Client: TLS, the server checked against this CA for this name. */
  tlsCa?: string;
  tlsName?: string;
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
    interval: intIn(flags.get('interval') ?? '0', '--interval', 0, 10_000),
    ...tlsArgs(flags),
  };
}

/** The TLS flags, each pair complete or absent. */
function tlsArgs(flags: ReadonlyMap<string, string>): Pick<RrArgs, 'tlsCert' | 'tlsKey' | 'tlsCa' | 'tlsName'> {
  const [cert, key, ca, name] = ['tls-cert', 'tls-key', 'tls-ca', 'tls-name'].map((f) => flags.get(f));
  if ((cert === undefined) !== (key === undefined)) throw new RrError('rr.js: --tls-cert and --tls-key go together');
  if ((ca === undefined) !== (name === undefined)) throw new RrError('rr.js: --tls-ca and --tls-name go together');
  return { ...(cert !== undefined && key !== undefined ? { tlsCert: cert, tlsKey: key } : {}), ...(ca !== undefined && name !== undefined ? { tlsCa: ca, tlsName: name } : {}) };
}

/** Replies `size` bytes for every full `size`-byte request on each connection. */
function serve(a: RrArgs): void {
  const handler = (socket: net.Socket): void => {
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
  };
  const server =
    a.tlsCert !== undefined && a.tlsKey !== undefined
      ? tls.createServer({ cert: readFileSync(a.tlsCert), key: readFileSync(a.tlsKey), minVersion: 'TLSv1.2' }, handler)
      : net.createServer(handler);
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
    const ca = a.tlsCa;
    const socket =
      ca !== undefined
        ? tls.connect({ host: a.host, port: a.port, ca: readFileSync(ca), servername: a.tlsName, minVersion: 'TLSv1.2' })
        : net.connect({ host: a.host, port: a.port, noDelay: true });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new RrError(`connect to ${a.host}:${a.port} timed out after ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    socket.once(ca !== undefined ? 'secureConnect' : 'connect', () => {
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

/** One transaction every `interval` ms on one socket until the window closes; the round trips' median and p99. */
function idleExchange(a: RrArgs, socket: net.Socket): Promise<RrResult> {
  const request = Buffer.alloc(a.size, 0x71);
  const rtts: number[] = [];
  const started = process.hrtime.bigint();
  const windowNs = BigInt(a.seconds) * 1_000_000_000n;
  return new Promise((resolve, reject) => {
    let pending = 0;
    let sentAt = 0n;
    const send = (): void => {
      sentAt = process.hrtime.bigint();
      socket.write(request);
    };
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.length;
      if (pending < a.size) return;
      pending -= a.size;
      const now = process.hrtime.bigint();
      rtts.push(Number(now - sentAt) / 1e6);
      if (now - started < windowNs) return void setTimeout(send, a.interval);
      socket.destroy();
      const seconds = Number(now - started) / 1e9;
      resolve({ connections: 1, size: a.size, transactions: rtts.length, seconds, perSecond: rtts.length / seconds, rttMedianMs: median(rtts), rttP99Ms: percentile(rtts, 99) });
    });
    socket.on('error', (err) => reject(new RrError(`connection failed during the run: ${err.message}`)));
    send();
  });
}

async function client(a: RrArgs): Promise<void> {
  const sockets = await Promise.all(Array.from({ length: a.interval > 0 ? 1 : a.connections }, () => connectOne(a)));
  const result = a.interval > 0 ? await idleExchange(a, sockets[0]!) : await exchange(a, sockets);
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
