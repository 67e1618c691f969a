// A virtual clock for the simulation: membership's timers (mesh/membership.ts takes a Timers and
// a now()) run on it instead of the event loop, so minutes of a 1000-node mesh pass in seconds
// of CPU. Time only moves when the next timer is due; between two timers every promise chain the
// last one started (requests answered at once by the in-memory transport) runs to its end.
// That wait is a process.nextTick, not an event-loop turn: queued from inside a microtask, a tick
// runs only once the microtask queue is empty, and costs no poll of the event loop (a
// setImmediate per timer was ~23% of a 100-node run, spent idle in epoll). Every
// TIMERS_PER_TURN timers the loop is given a real turn, so I/O (progress lines) still flows.
import type { Timers } from '../../mesh/membership.js';

interface Entry {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class VirtualClock implements Timers {
  private t = 0;
  private seq = 0;
  private readonly heap: Entry[] = [];

  /** Seconds since the simulation started. */
  readonly now = (): number => this.t;

  setTimeout(fn: () => void, ms: number): unknown {
    const e: Entry = { at: this.t + Math.max(0, ms) / 1000, seq: this.seq++, fn, cancelled: false };
    this.push(e);
    return e;
  }

  clearTimeout(handle: unknown): void {
    if (handle !== undefined && handle !== null) (handle as Entry).cancelled = true;
  }

  /** Resolves after `seconds` of virtual time. */
  sleep(seconds: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, seconds * 1000));
  }

  /** Runs timers in order until `until` (virtual seconds). Returns the virtual time reached. */
  async run(until: number): Promise<number> {
    await null; // from here on inside a microtask, where drained() means what it says
    let fired = 0;
    while (this.heap.length > 0 && this.heap[0]!.at <= until) {
      const e = this.pop();
      if (e.cancelled) continue;
      this.t = e.at;
      e.fn();
      await (++fired % TIMERS_PER_TURN === 0 ? loopTurn() : drained());
    }
    this.t = Math.max(this.t, until);
    return this.t;
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Timers fired between two real event-loop turns. */
const TIMERS_PER_TURN = 2000;

/** Resolves once every pending promise callback has run (see the top of the file). */
function drained(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}

/** One event-loop turn: I/O callbacks and real timers get their chance. */
function loopTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
