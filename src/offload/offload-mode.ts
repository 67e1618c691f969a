// Which TUN offloads the kernel may use right now (TUNSETOFFLOAD is device-wide and immediate).
//
// A super-packet read from the TUN can leave whole only on a v2 fast channel. Any other path (the
// original's JSON path, a tunmesh peer without offloads) needs it cut to the MTU in software
// (software-gso.ts). While that segmenter is absent, the main process turns the kernel's
// offloads off whenever a peer needs such a path and on again when none does; the device keeps
// its virtio_net_hdr either way (v2 frames keep arriving and are written whole: a write needs no
// offload flag). With the segmenter, offloads stay on whatever the peers.
import type { DataPlaneState } from '../dataplane/contract.js';
import type { Logger } from '../log/logger.js';
import { offloadNames, setOffloads } from '../tun/vnet.js';
import { softwareSegmenter } from './software-gso.js';

/** The offloads to use: all accepted ones when every packet can leave, else none. */
export function wantedOffloads(state: DataPlaneState, accepted: number, canSegment: boolean): number {
  if (canSegment) return accepted;
  return state.peers.every((p) => p.frames === 2) ? accepted : 0;
}

export class OffloadSwitch {
  private current: number;

  constructor(
    private readonly fd: number,
    /** What the kernel accepted at open (the device starts with these on). */
    readonly accepted: number,
    private readonly log: Logger,
  ) {
    this.current = accepted;
  }

  /** Offloads in effect now (TUN_F_* bits). */
  get active(): number {
    return this.current;
  }

  update(state: DataPlaneState): void {
    const want = wantedOffloads(state, this.accepted, softwareSegmenter !== null);
    if (want === this.current) return;
    setOffloads(this.fd, want);
    this.current = want;
    const legacy = state.peers.filter((p) => p.frames !== 2).map((p) => p.id);
    this.log.info(want === 0 ? 'TUN offloads off: peers without offload frames need MTU-sized packets' : 'TUN offloads on', {
      component: 'dataplane',
      offloads: offloadNames(want).join(',') || 'none',
      ...(want === 0 ? { peers: legacy } : {}),
    });
  }
}
