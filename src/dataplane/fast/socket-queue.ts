// How much a fast channel may hold in the kernel. A channel is one TCP connection that every
// flow toward the peer shares, so whatever waits in its buffers waits in front of each small
// packet: a bulk TCP stream through the tunnel let Linux autotune them to megabytes (measured
// on 2026-12-07, one veth, 3 Gbit/s: 2.2 MB unsent at the sender, 1.4 MB unread at the receiver,
// ~10 ms), and a ping-pong behind it saw a p99 30x its idle one (bench/README.md, Latency).
// Bounded, the queue is the sender's own (channel.ts: queueLimit, then `queue_full` drops, which
// the tunnelled TCP flows answer by slowing down, as they would at a router).
import type { LevelLogger } from '../../log/logger.js';
import { errorMessage } from '../../log/error-message.js';
import { boundSocketQueue, type SocketQueueBounds } from '../../tun/socket-queue.js';

/** The dialling end sends: unsent data beyond this makes the socket unwritable (Node then buffers, counted by queueLimit). */
export const SENDER_BOUNDS: SocketQueueBounds = { receiveBuffer: 0, notSentLowat: 128 * 1024 };
/** The accepting end receives: its window, and so what is in flight plus unread, stays near this (the kernel doubles it). */
export const RECEIVER_BOUNDS: SocketQueueBounds = { receiveBuffer: 256 * 1024, notSentLowat: 0 };

let reported = false;

/**
 * Bounds a channel socket's kernel queues. A socket without a descriptor of its own (a test's
 * in-memory duplex) or a kernel that refuses keeps the defaults: the channel works as before,
 * only with deeper queues, so this is said once in the log rather than failing the channel.
 */
export function boundChannelQueue(socket: object, bounds: SocketQueueBounds, log: LevelLogger): void {
  try {
    boundSocketQueue(socket, bounds);
  } catch (err) {
    if (reported) return;
    reported = true;
    log.warn('fast channel queues left unbounded (small packets may wait behind bulk traffic)', { component: 'dataplane', error: errorMessage(err) });
  }
}
