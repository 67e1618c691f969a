// One attempt to open a fast channel: TLS to the target the port policy chose (our CA, the TLS
// policy, our certificate for peers with mutual TLS, resuming the peer's last TLS session), then
// the upgrade under the peer's current session (handshake.ts), all bounded by the upgrade
// timeout until the 101. Any failure destroys the socket; the channel learns of it by `closed`.
import { connect as tlsConnect, type ConnectionOptions, type SecureContext, type TLSSocket } from 'node:tls';
import type { PeerRoute } from '../contract.js';
import { ChannelError } from '../errors.js';
import { peerTlsOptions } from '../../security/peer-tls.js';
import type { TransportDeps } from '../transport.js';
import type { FrameVersion } from './frames.js';
import { requestUpgrade } from './handshake.js';
import { boundChannelQueue, SENDER_BOUNDS } from './socket-queue.js';
import type { ChannelTarget } from './port-policy.js';

/**
 * The least time a dial gets for TLS and the 101: a starved peer answers slowly, and a dial
 * cut short is a handshake wasted and the held packets lost with it.
 */
const MIN_UPGRADE_TIMEOUT_MS = 5000;

/** Opens the TLS connection (tls.connect; a test may reach its server another way, a Unix socket say). */
export type Connect = (options: ConnectionOptions) => TLSSocket;

export interface DialOptions {
  target: ChannelTarget;
  /** The peer as it is when the upgrade goes out (its session signs it; main may hand a new one meanwhile). */
  peer(): PeerRoute;
  version: FrameVersion;
  deps: TransportDeps;
  /** A TLS session of this peer's from an earlier dial, to resume instead of a full handshake. */
  tlsSession: ResumeTicket | undefined;
  connect?: Connect;
}

export interface DialEvents {
  /** The 101 came, under session `sessionId`: the socket is a channel now. */
  upgraded(socket: TLSSocket, sessionId: string): void;
  /** The socket closed; `upgraded`: after its 101 (else the attempt failed). */
  closed(socket: TLSSocket, upgraded: boolean): void;
  /** A TLS session ticket for the next dial. */
  session(ticket: ResumeTicket): void;
}

/**
 * A TLS session ticket and the client context it was made under. Resumed, a session keeps the
 * client certificate of its first handshake: after a reload the peer would still see the old
 * one, so a ticket is only resumed under the context that made it.
 */
export interface ResumeTicket {
  ticket: Buffer;
  context: SecureContext;
}

export function dialChannel(o: DialOptions, events: DialEvents): TLSSocket {
  const { host, port } = o.target;
  const tls = peerTlsOptions(o.deps.settings, host);
  const context = tls.secureContext;
  const resume = o.tlsSession?.context === context ? { session: o.tlsSession.ticket } : {};
  const socket = (o.connect ?? tlsConnect)({ host, port, ALPNProtocols: ['http/1.1'], ...tls, ...resume });
  let upgraded = false;
  socket.setNoDelay(true);
  socket.on('session', (ticket: Buffer) => events.session({ ticket, context }));
  socket.setTimeout(Math.max(o.deps.settings.requestTimeoutMs, MIN_UPGRADE_TIMEOUT_MS), () => socket.destroy(new ChannelError('upgrade timed out')));
  socket.on('error', (err) => o.deps.log.debug('fast channel error', { peer: o.peer().id, port, error: err.message }));
  socket.once('close', () => events.closed(socket, upgraded));
  socket.once('secureConnect', () => {
    upgrade(socket, o).then(
      (sessionId) => {
        upgraded = true;
        boundChannelQueue(socket, SENDER_BOUNDS, o.deps.log);
        events.upgraded(socket, sessionId);
      },
      (err: unknown) => socket.destroy(err instanceof Error ? err : new Error(String(err))),
    );
  });
  return socket;
}

/** The upgrade under the peer's current session; resolves with that session's id on 101. */
async function upgrade(socket: TLSSocket, o: DialOptions): Promise<string> {
  const peer = o.peer();
  const sessionId = peer.session?.id ?? '';
  const authorization = await o.deps.signer.header(peer, '');
  if (authorization === null) throw new ChannelError('no session');
  const status = await requestUpgrade(socket, { selfId: o.deps.selfId, authority: o.target.authority, version: o.version, authorization });
  if (status !== 101) {
    if (status === 401 || status === 403) o.deps.onRejected(peer.id, sessionId);
    throw new ChannelError(`upgrade refused with HTTP ${status}`, status);
  }
  socket.setTimeout(0);
  socket.on('data', () => undefined); // the peer sends nothing on this channel; keep it flowing
  return sessionId;
}
