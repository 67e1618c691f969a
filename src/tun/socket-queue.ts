// Kernel queue bounds for a TCP socket, through the addon (Node sets neither option itself).
// Lives beside the TUN code because it is the one place the native addon is reached from.
import { loadAddon } from './addon.js';
import { TunError } from './errors.js';
import { errorMessage } from '../log/error-message.js';

export interface SocketQueueBounds {
  /** SO_RCVBUF in bytes (the kernel doubles it); 0 leaves the kernel's autotuning alone. */
  receiveBuffer: number;
  /** TCP_NOTSENT_LOWAT in bytes; 0 leaves it alone. */
  notSentLowat: number;
}

/** The file descriptor under a net or TLS socket (a TLS socket's handle reports its TCP one). */
function socketFd(socket: object): number | undefined {
  const handle: unknown = (socket as { _handle?: unknown })._handle;
  if (typeof handle !== 'object' || handle === null) return undefined;
  const fd: unknown = (handle as { fd?: unknown }).fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * Applies `bounds` to the socket's TCP queues. Throws TunError('SOCKET_QUEUE') when the socket
 * has no descriptor (not yet connected, or not TCP) or the kernel refused an option.
 */
export function boundSocketQueue(socket: object, bounds: SocketQueueBounds): void {
  const fd = socketFd(socket);
  if (fd === undefined) throw new TunError('SOCKET_QUEUE', 'the socket has no file descriptor to set its queue bounds on');
  try {
    loadAddon().setSocketQueue(fd, bounds.receiveBuffer, bounds.notSentLowat);
  } catch (err) {
    throw new TunError('SOCKET_QUEUE', `cannot bound the socket's queues: ${errorMessage(err)}`, { cause: err });
  }
}
