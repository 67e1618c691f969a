// The receiving end of fast channels for unit tests of the sender: a real TLS server on a Unix
// socket (no addresses at all), running the real server half of the upgrade (handshake.ts) and
// the real frame reader, with session tokens verified by src/auth. Which sessions it accepts,
// and whether it listens at all, is the test's to change while a channel runs.
import { createServer, type Server } from 'node:https';
import { rmSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { parseAuthHeader, sessionKey, verifyToken, type AuthKey } from '../../src/auth/index.js';
import { acceptUpgrade, parseUpgrade, refuseUpgrade } from '../../src/dataplane/fast/handshake.js';
import { FrameReader, type FrameSink } from '../../src/dataplane/fast/frames.js';

/** One channel this peer accepted: the session it was opened with and the packets it carried. */
export interface AcceptedChannel {
  session: string;
  socket: Duplex;
  packets: Buffer[];
  ended: boolean;
}

export class FastPeer {
  readonly accepted: AcceptedChannel[] = [];
  /** Upgrades refused (unknown or dead session). */
  refused = 0;
  /** While set, verified upgrades wait for release() before their 101 (a slow peer). */
  hold = false;
  private readonly held: Array<() => void> = [];
  private readonly keys = new Map<string, AuthKey>();
  private server: Server | null = null;

  constructor(
    readonly path: string,
    private readonly tls: { cert: string; key: string },
    private readonly selfId: string,
    private readonly senderId: string,
  ) {}

  /** Upgrades under this session verify from now on. */
  allow(session: { id: string; secretB64: string }): void {
    this.keys.set(session.id, sessionKey(session.id, Buffer.from(session.secretB64, 'base64')));
  }

  /** Upgrades under this session are refused (401) from now on; open channels stay. */
  forbid(sessionId: string): void {
    this.keys.delete(sessionId);
  }

  /** Answers the upgrades held so far. */
  release(): void {
    this.hold = false;
    for (const answer of this.held.splice(0)) answer();
  }

  async listen(): Promise<void> {
    rmSync(this.path, { force: true });
    const server = createServer({ ...this.tls }, (_req, res) => res.writeHead(404).end());
    server.on('upgrade', (req, socket: Duplex, head: Buffer) => this.upgrade(req.url, req.headers.upgrade, req.headers.authorization, socket, head));
    await new Promise<void>((resolve) => server.listen(this.path, resolve));
    this.server = server;
  }

  /** Stops listening and cuts every channel (a peer that went away). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    server.closeAllConnections();
    for (const ch of this.accepted) ch.socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private upgrade(url: string | undefined, token: string | undefined, authorization: string | undefined, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined); // a channel the sender cuts is no failure here
    const ask = parseUpgrade(url, token, false);
    if (ask === null) return refuseUpgrade(socket, 400);
    verifyToken(parseAuthHeader(authorization), {
      keys: (id) => {
        const key = this.keys.get(id);
        return key === undefined ? undefined : { key, peerId: this.senderId };
      },
      audience: this.selfId,
      body: Buffer.alloc(0),
      maxClockSkew: 5,
      issuer: ask.peerId,
    }).then(
      (verified) => {
        if (this.hold) return void this.held.push(() => this.open(verified.keyId, ask.version, socket, head));
        this.open(verified.keyId, ask.version, socket, head);
      },
      () => {
        this.refused++;
        refuseUpgrade(socket, 401, 'unknown_key');
      },
    );
  }

  private open(session: string, version: 1 | 2, socket: Duplex, head: Buffer): void {
    if (socket.destroyed) return;
    acceptUpgrade(socket, version);
    const ch: AcceptedChannel = { session, socket, packets: [], ended: false };
    this.accepted.push(ch);
    const reader = new FrameReader();
    const sink: FrameSink = { frame: (buf, off, len) => ch.packets.push(Buffer.from(buf.subarray(off, off + len))), flush: () => undefined };
    if (head.length > 0) reader.push(head, sink);
    socket.on('data', (chunk: Buffer) => reader.push(chunk, sink));
    socket.once('end', () => (ch.ended = true));
  }
}
