// How long to wait for a peer's answer: learnt from its measured answer times, not fixed.
//
// A fixed request_timeout of 1 s collapses a mesh on starved CPUs: every node on a sliver of a
// core answers in more than 1 s, its peers time out, drop the connection (the next request pays
// a new TLS handshake) and retry, and the retries are the load that makes the next round time
// out. So each peer (keyed by its URL's origin) gets TCP's retransmission timer (RFC 6298):
//   timeout = max(request_timeout, srtt + 4 * rttvar) * 2^(timeouts in a row), capped.
// A peer we have never heard from starts from what every peer answered lately (the node's own
// load shows there first), so a busy node does not time out its first contact to each new peer.
// request_timeout stays the floor: an idle mesh answers within it, as the original expects.

/** Answer times are smoothed as RFC 6298 does (alpha 1/8, beta 1/4). */
const ALPHA = 1 / 8;
const BETA = 1 / 4;

export interface AnswerTimesOptions {
  /** request_timeout (ms): never wait less. */
  floorMs: number;
  /** Never wait more (ms), however slow the peer has been. */
  ceilingMs: number;
}

interface Estimate {
  srtt: number;
  rttvar: number;
  /** Timeouts in a row since the last answer. */
  timeouts: number;
}

export class AnswerTimes {
  private readonly peers = new Map<string, Estimate>();
  /** Every peer's answers together: the start for a peer without its own. */
  private readonly all: Estimate = { srtt: 0, rttvar: 0, timeouts: 0 };
  private seen = false;

  constructor(private readonly opts: AnswerTimesOptions) {}

  get ceilingMs(): number {
    return this.opts.ceilingMs;
  }

  /** How long to wait for `key` now (ms). */
  timeoutMs(key: string): number {
    const e = this.peers.get(key);
    const base = e ? rto(e) : this.seen ? rto(this.all) : 0;
    const backoff = 2 ** Math.min(e?.timeouts ?? 0, 6);
    return Math.min(this.opts.ceilingMs, Math.max(this.opts.floorMs, base) * backoff);
  }

  /** An answer came after `ms`. */
  answered(key: string, ms: number): void {
    const e = this.peers.get(key);
    if (e) {
      smooth(e, ms);
      e.timeouts = 0;
    } else this.peers.set(key, { srtt: ms, rttvar: ms / 2, timeouts: 0 });
    if (this.seen) smooth(this.all, ms);
    else Object.assign(this.all, { srtt: ms, rttvar: ms / 2 });
    this.seen = true;
  }

  /** No answer within timeoutMs(key): wait twice as long next time. */
  timedOut(key: string): void {
    const e = this.peers.get(key) ?? { srtt: this.seen ? this.all.srtt : this.opts.floorMs, rttvar: this.seen ? this.all.rttvar : 0, timeouts: 0 };
    e.timeouts++;
    this.peers.set(key, e);
  }

  forget(key: string): void {
    this.peers.delete(key);
  }
}

function smooth(e: Estimate, ms: number): void {
  e.rttvar = (1 - BETA) * e.rttvar + BETA * Math.abs(e.srtt - ms);
  e.srtt = (1 - ALPHA) * e.srtt + ALPHA * ms;
}

function rto(e: Estimate): number {
  return e.srtt + 4 * e.rttvar;
}

/** The key of a URL's peer: its origin (scheme, host, port). */
export function answerKey(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
