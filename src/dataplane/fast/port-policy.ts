// Where a fast channel dials: the peer's channel port when it announced one (its workers receive
// there, so replies leave from the process that took the request), else its API port.
//
//   fallback  a dial to the channel port that fails before its 101 sends the next dial to the
//             API port, and the one after back to the channel port: a channel port a firewall
//             blocks costs one attempt per reconnect, not the channel. A first open that failed
//             on the channel port goes on to the API port at once, as the same attempt
//             (fallbackNow), with the packets held for it.
//   probe     a channel open on the API port although the peer announced a channel port tries
//             the channel port again every CHANNEL_PORT_RETRY_MS (wantsProbe, probe), as a
//             renewal (make before break): a firewall opened later brings the channel back to
//             the peer's workers without a loss.
// Pure bookkeeping: the channel (channel.ts) does the dialling and tells this what happened.
import type { PeerRoute } from '../contract.js';
import { peerEndpoint } from '../transport.js';

/** A channel that fell back to the API port tries the peer's channel port again this often. */
export const CHANNEL_PORT_RETRY_MS = 15_000;

/** Where one dial goes. */
export interface ChannelTarget {
  /** Without the brackets of an IPv6 literal (what tls.connect takes). */
  host: string;
  port: number;
  /** As a Host header carries it (`[2001:2::1]:4567`). */
  authority: string;
  /** The dial goes to the peer's channel port (not its API port). */
  viaChannelPort: boolean;
}

type PeerPorts = Pick<PeerRoute, 'url' | 'channelPort'>;

export class PortPolicy {
  /** The last dial went to the channel port and failed before its 101: the next goes to the API port. */
  private channelPortFailed = false;
  /** The open channel was dialled to the peer's channel port (or the peer announced none). */
  private onChannelPort = true;

  /** Where the next dial goes. */
  target(peer: PeerPorts): ChannelTarget {
    const viaChannelPort = peer.channelPort !== undefined && !this.channelPortFailed;
    const { host, port, authority } = peerEndpoint(peer.url, viaChannelPort ? peer.channelPort : undefined);
    return { host, port, authority, viaChannelPort };
  }

  /** A dial ended before its 101. True when it is a first failure on the channel port (worth a log line). */
  failed(target: ChannelTarget): boolean {
    const first = target.viaChannelPort && !this.channelPortFailed;
    this.channelPortFailed = target.viaChannelPort;
    return first;
  }

  /** A first open that just failed goes on to the API port at once (it failed on the channel port). */
  get fallbackNow(): boolean {
    return this.channelPortFailed;
  }

  /** A dial got its 101; returns whether the channel runs where the peer wants channels (its channel port, or it has none). */
  upgraded(target: ChannelTarget, peer: PeerPorts): boolean {
    this.channelPortFailed = false;
    return target.viaChannelPort || peer.channelPort === undefined;
  }

  /** A channel dialled to `target` carries the traffic now; true when it moved back to the channel port. */
  carrying(onChannelPort: boolean): boolean {
    const moved = onChannelPort && !this.onChannelPort;
    this.onChannelPort = onChannelPort;
    return moved;
  }

  /** The open channel runs on the API port although the peer has a channel port: probe it later. */
  wantsProbe(peer: PeerPorts): boolean {
    return !this.onChannelPort && peer.channelPort !== undefined;
  }

  /** The probe is due: the next dial (a renewal) goes to the channel port again. */
  probe(): void {
    this.channelPortFailed = false;
  }
}
