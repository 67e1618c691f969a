// Inbound fast channels, after their 101 (handshake.ts): each TLS socket's chunks are split into
// frames in place (FrameReader) and every frame goes to the receive path's checks
// (receive.ts, step 3); the open channels are kept per peer, so that a peer that left, or a
// session key that stopped verifying, closes exactly its own.
import type { Duplex } from 'node:stream';
import type { LevelLogger } from '../../log/logger.js';
import type { DataPlaneMetrics, PeerCounters } from '../metrics.js';
import { VNET_GSO_NONE, VNET_HDR_LEN, vnetGsoType } from '../../tun/vnet.js';
import { FrameReader, MAX_FRAME, MAX_FRAME_V2, type FrameSink, type FrameVersion } from './frames.js';

/** What an inbound channel hands its frames to: the receive path's checks and TUN batch. */
export interface InboundPackets {
  /** A plain packet from `peerId` at buf[off, off+len) (v1 frames). */
  accept(peerId: string, buf: Buffer, off: number, len: number): void;
  /** A virtio_net_hdr and its packet, maybe a super-packet (v2 frames). */
  acceptWithHeader(peerId: string, buf: Buffer, off: number, len: number): void;
  /** The frames of one chunk are all handed over: write them out (or queue the write). */
  chunkDone(version: FrameVersion): void;
  /** Drops of the chunk, to the counters. */
  countDrops(): void;
}

/** One inbound fast channel: its peer, its session key, its frame reader and its counts. */
class InboundChannel implements FrameSink {
  readonly reader: FrameReader;
  private packets = 0;
  private bytes = 0;
  private superPackets = 0;

  constructor(
    readonly peerId: string,
    readonly keyId: string | undefined,
    readonly socket: Duplex,
    private readonly rx: InboundPackets,
    private readonly metrics: DataPlaneMetrics,
    private readonly counters: PeerCounters,
    private readonly version: FrameVersion,
  ) {
    this.reader = new FrameReader(version === 2 ? MAX_FRAME_V2 : MAX_FRAME, version);
  }

  frame(buf: Buffer, off: number, len: number): void {
    this.packets++;
    if (this.version === 2) {
      this.bytes += len - VNET_HDR_LEN;
      if (vnetGsoType(buf, off) !== VNET_GSO_NONE) this.superPackets++;
      this.rx.acceptWithHeader(this.peerId, buf, off, len);
      return;
    }
    this.bytes += len;
    this.rx.accept(this.peerId, buf, off, len);
  }

  flush(): void {
    this.rx.chunkDone(this.version);
    this.rx.countDrops();
    this.counters.rxPackets.inc(this.packets);
    this.counters.rxBytes.inc(this.bytes);
    this.metrics.superPackets('rx', this.superPackets);
    this.packets = this.bytes = this.superPackets = 0;
  }
}

export interface InboundChannelsOptions {
  metrics: DataPlaneMetrics;
  log: LevelLogger;
  /** The kind of process receiving (the receiver label of tunmesh_inbound_channels). */
  receiver: 'main' | 'worker';
}

/** The open inbound channels of one process, per peer. */
export class InboundChannels {
  private readonly open = new Map<string, Set<InboundChannel>>();

  constructor(
    private readonly rx: InboundPackets,
    private readonly opts: InboundChannelsOptions,
  ) {}

  /** An upgraded socket from `peerId` (opened with session key `keyId`): its frames from `head` on go to the checks. */
  add(peerId: string, keyId: string | undefined, socket: Duplex, head: Buffer, version: FrameVersion): void {
    const { metrics, log, receiver } = this.opts;
    const ch = new InboundChannel(peerId, keyId, socket, this.rx, metrics, metrics.forPeer(peerId), version);
    let set = this.open.get(peerId);
    if (set === undefined) this.open.set(peerId, (set = new Set()));
    set.add(ch);
    metrics.inboundChannel(receiver, 1);
    socket.once('close', () => {
      metrics.inboundChannel(receiver, -1);
      set.delete(ch);
      if (set.size === 0 && this.open.get(peerId) === set) this.open.delete(peerId);
    });
    const onChunk = (chunk: Buffer): void => {
      if (ch.reader.push(chunk, ch)) return;
      ch.flush();
      metrics.drop('malformed', 1);
      log.warn('malformed frame on fast channel; closing it', { peer: peerId });
      socket.destroy();
    };
    if (head.length > 0) onChunk(head);
    socket.on('data', onChunk);
  }

  /**
   * Channels whose session key no longer verifies end: a revoked or expired key keeps nothing open.
   * Returns whether a channel opened under a session key is still open (still to be checked).
   */
  endSessions(live: (keyId: string) => boolean): boolean {
    let watched = false;
    for (const set of this.open.values()) {
      for (const ch of set) {
        if (ch.keyId === undefined || ch.socket.destroyed) continue;
        if (live(ch.keyId)) {
          watched = true;
          continue;
        }
        this.opts.log.info('fast channel closed: its session key expired', { component: 'dataplane', peer: ch.peerId, session: ch.keyId });
        ch.socket.destroy();
      }
    }
    return watched;
  }

  /** Closes the channels of peers not in `ids` (they left the mesh); returns the ids closed. */
  keepOnly(ids: ReadonlySet<string>): string[] {
    const gone: string[] = [];
    for (const [peerId, set] of this.open) {
      if (ids.has(peerId)) continue;
      for (const ch of set) ch.socket.destroy();
      this.open.delete(peerId);
      gone.push(peerId);
    }
    return gone;
  }

  /** Open channels per peer id. */
  counts(): Map<string, number> {
    return new Map([...this.open].map(([id, set]) => [id, set.size]));
  }

  closeAll(): void {
    for (const set of this.open.values()) for (const ch of set) ch.socket.destroy();
    this.open.clear();
  }
}
