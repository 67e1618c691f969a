// The main process's TUN queue for writing received packets. It is detached (TUNSETQUEUE with
// IFF_DETACH_QUEUE): the kernel still takes packets written to it but never hands it packets to
// send, so every outgoing packet reaches a worker's attached queue.
import { loadAddon } from '../tun/addon.js';
import { TunError } from '../tun/errors.js';
import { errorMessage } from '../log/error-message.js';

export function detachQueue(fd: number): void {
  const addon = loadAddon();
  try {
    addon.detachQueue(fd);
  } catch (err) {
    throw new TunError('TUN_IO', `cannot detach TUN queue fd ${fd}: ${errorMessage(err)}`, { cause: err });
  }
}
