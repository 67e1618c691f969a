// Per-peer byte rates for `tunmesh status`, over a sliding window of traffic samples. Workers
// report every 2 s, so a rate between two adjacent samples would jump between 0 and bursts.
import type { PeerTrafficView } from '../metrics/node.js';

/** Traffic per peer id, summed over the processes: what a sample holds and `tunmesh status` shows. */
export type PeerTraffic = Map<string, PeerTrafficView>;

export interface PeerRate {
  txBytesPerSecond: number;
  rxBytesPerSecond: number;
}

interface Sample {
  at: number;
  traffic: PeerTraffic;
}

export class RateWindow {
  private samples: Sample[] = [];

  constructor(private readonly windowSeconds = 10) {}

  add(at: number, traffic: PeerTraffic): void {
    this.samples.push({ at, traffic });
    // Keep the newest sample that is at least a window old, so the window stays full.
    while (this.samples.length > 2 && at - (this.samples[1] as Sample).at >= this.windowSeconds) this.samples.shift();
  }

  rate(peerId: string): PeerRate {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at <= first.at) return { txBytesPerSecond: 0, rxBytesPerSecond: 0 };
    const a = first.traffic.get(peerId);
    const b = last.traffic.get(peerId);
    if (!b) return { txBytesPerSecond: 0, rxBytesPerSecond: 0 };
    const dt = last.at - first.at;
    // A peer first seen inside the window counts from zero; counters never go down.
    return {
      txBytesPerSecond: Math.max(0, b.txBytes - (a?.txBytes ?? 0)) / dt,
      rxBytesPerSecond: Math.max(0, b.rxBytes - (a?.rxBytes ?? 0)) / dt,
    };
  }
}
