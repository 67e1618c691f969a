// The fast path's HTTP/1.1 Upgrade, both halves: how one TLS connection becomes a channel of
// frames (frames.ts). One exchange per channel, never per packet.
//
//   1. request   the sender writes, over TLS (ALPN http/1.1):
//                  GET /tunmesh/fastpath/v1/<sender id> HTTP/1.1
//                  Host: <the peer's authority>     Connection: Upgrade
//                  Upgrade: tunmesh-fastpath/1      (v2 frames: tunmesh-fastpath/2)
//                  Authorization: <a session token over the empty body>
//   2. check     the receiver takes the sender id from the path and the framing from the Upgrade
//                token (v2 only when its own TUN has offloads): anything else is 400. The token,
//                the client certificate and the deny list are judged by whoever authenticates
//                (receive.ts; in a worker, main through upgrade-checks.ts): 401 or 403, with the
//                API's JSON error body ({error, reason}), and the connection closes.
//   3. answer    `HTTP/1.1 101 Switching Protocols` with the same Upgrade token; from then on the
//                sender writes frames and the receiver writes nothing.
//   4. status    the sender reads the answer's head (at most MAX_RESPONSE_HEAD bytes) for its
//                status: 101 opens the channel; anything else ends the attempt.
import type { Duplex } from 'node:stream';
import { ChannelError } from '../errors.js';
import type { FrameVersion } from './frames.js';
import { FAST_PATH_ROUTE, FAST_PATH_UPGRADE, FAST_PATH_UPGRADE_V2 } from '../../protocol/fast-path.js';

/** An upgrade answer longer than this is not ours. */
const MAX_RESPONSE_HEAD = 8192;
/** A refused connection is destroyed if the peer has not closed it by then. */
const REFUSAL_LINGER_MS = 1000;

export function upgradeToken(version: FrameVersion): string {
  return version === 2 ? FAST_PATH_UPGRADE_V2 : FAST_PATH_UPGRADE;
}

// ---- the sender's half --------------------------------------------------------------------

export interface UpgradeRequest {
  /** Our node id: the path names the sender. */
  selfId: string;
  /** The peer's host and port as a Host header carries them (`[2001:2::1]:4567`). */
  authority: string;
  version: FrameVersion;
  /** A session token over the empty body, as an Authorization value. */
  authorization: string;
}

/** Step 1 and 4: writes the upgrade request and resolves with the status of the answer. */
export function requestUpgrade(socket: Duplex, req: UpgradeRequest): Promise<number> {
  const status = readStatus(socket);
  socket.write(
    `GET ${FAST_PATH_ROUTE}${req.selfId} HTTP/1.1\r\nHost: ${req.authority}\r\n` +
      `Connection: Upgrade\r\nUpgrade: ${upgradeToken(req.version)}\r\nAuthorization: ${req.authorization}\r\n\r\n`,
  );
  return status;
}

/** Reads the HTTP response head of the upgrade and returns its status code. */
function readStatus(socket: Duplex): Promise<number> {
  return new Promise((resolve, reject) => {
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0 && head.length < MAX_RESPONSE_HEAD) return;
      cleanup();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (m === null) reject(new ChannelError('not an HTTP response to the upgrade'));
      else resolve(Number(m[1]));
    };
    const onClose = (): void => {
      cleanup();
      reject(new ChannelError('closed during the upgrade'));
    };
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

// ---- the receiver's half ------------------------------------------------------------------

/** What an upgrade request asks for: the sender it names and the framing. */
export interface UpgradeAsk {
  peerId: string;
  version: FrameVersion;
}

/**
 * Step 2, the part without keys: the sender id from the path and the framing from the Upgrade
 * token; null when the request is not a fast-path upgrade we speak (v2 needs `acceptV2`: our
 * TUN's offloads). The caller answers null with refuseUpgrade(socket, 400).
 */
export function parseUpgrade(url: string | undefined, upgrade: string | undefined, acceptV2: boolean): UpgradeAsk | null {
  const path = url ?? '';
  const peerId = path.startsWith(FAST_PATH_ROUTE) ? path.slice(FAST_PATH_ROUTE.length) : '';
  if (peerId === '' || peerId.includes('/')) return null;
  const token = upgrade?.toLowerCase();
  if (token === FAST_PATH_UPGRADE) return { peerId, version: 1 };
  if (token === FAST_PATH_UPGRADE_V2 && acceptV2) return { peerId, version: 2 };
  return null;
}

/** Step 3: the 101; the channel then carries frames only (no Nagle delay on them). */
export function acceptUpgrade(socket: Duplex, version: FrameVersion): void {
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${upgradeToken(version)}\r\n\r\n`);
  const noDelay = (socket as Duplex & { setNoDelay?: (on: boolean) => void }).setNoDelay;
  noDelay?.call(socket, true);
}

const STATUS_TEXT: Record<400 | 401 | 403, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden' };

/** Step 2's refusal: an HTTP answer on the raw socket with the API's JSON error body ({error, reason}), then close. */
export function refuseUpgrade(socket: Duplex, status: 400 | 401 | 403, reason = 'bad_request'): void {
  if (socket.destroyed) return;
  const text = STATUS_TEXT[status];
  const body = JSON.stringify({ error: text, reason });
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
}
