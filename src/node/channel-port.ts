// The channel port (tunmesh.data_plane.channel_port): where tunmesh peers open fast channels to
// be received by our workers instead of the main process. Main only accepts the TCP connection
// (paused: it reads nothing) and hands the socket to a worker over IPC, before TLS begins; the
// worker does the handshake and the upgrade (dataplane/fast/channel-server.ts). The port is announced in
// the signed `tunmesh` claim; a node that cannot listen on it runs without it (channels then come
// to the API port, as to older tunmesh nodes) rather than not at all.
import net from 'node:net';
import type { Logger } from '../log/logger.js';
import { errorMessage } from '../log/error-message.js';

export interface ChannelPort {
  port: number;
  close(): Promise<void>;
}

export interface ChannelPortOptions {
  port: number;
  /** The API's listen address; undefined: every address. */
  address: string | undefined;
  /** Gives an accepted socket to a worker; false when none takes it. */
  handOff: (socket: net.Socket) => boolean;
  log: Logger;
}

/** Listens on `port` (the API's address); null, with a warning, when it cannot. */
export async function openChannelPort(o: ChannelPortOptions): Promise<ChannelPort | null> {
  const { port, address, handOff, log } = o;
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    if (!handOff(socket)) socket.destroy(); // no worker runs: the peer retries, or falls back to the API port
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, address, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'another process is listening on it' : errorMessage(err);
    log.warn('cannot listen on the channel port; fast channels come to the API port instead', { component: 'dataplane', port, reason: why });
    return null;
  }
  server.on('error', (err) => log.warn('channel port error', { component: 'dataplane', error: err.message }));
  log.info('channel port listening: workers receive fast channels', { component: 'dataplane', port });
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
