// Bounded concurrency of the node's outgoing control requests (registrations, init_session,
// node_info), in two lanes:
//   keep - work for links we have (re-registrations, session rotations): served first
//   grow - work that adds links (bootstrap, discovered nodes, first sessions)
// so that under overload existing links are kept alive before new ones are added, and a cold
// start of many nodes does not open a TLS handshake to everyone at once. Work that has to wait
// is counted (`deferred`): a node that keeps deferring is short of CPU or its peers are slow.

export type Lane = 'keep' | 'grow';

export interface PacerOptions {
  /** Requests in flight at most. */
  limit: number;
  /** Of those, at most this many in the grow lane, so keep work always finds a slot soon. */
  growLimit: number;
  /** A request had to wait for a slot. */
  deferred?(lane: Lane): void;
}

interface Waiting {
  lane: Lane;
  start(): void;
}

export class Pacer {
  private running = 0;
  private growing = 0;
  private readonly queue: Waiting[] = [];

  constructor(private readonly opts: PacerOptions) {}

  /** Runs `work` when a slot of its lane is free. */
  async run<T>(lane: Lane, work: () => Promise<T>): Promise<T> {
    if (!this.canStart(lane)) {
      this.opts.deferred?.(lane);
      await new Promise<void>((start) => this.queue.push({ lane, start }));
    } else this.take(lane);
    try {
      return await work();
    } finally {
      this.release(lane);
    }
  }

  get inFlight(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }

  private canStart(lane: Lane): boolean {
    if (this.running >= this.opts.limit) return false;
    return lane === 'keep' || this.growing < this.opts.growLimit;
  }

  private take(lane: Lane): void {
    this.running++;
    if (lane === 'grow') this.growing++;
  }

  private release(lane: Lane): void {
    this.running--;
    if (lane === 'grow') this.growing--;
    this.startNext();
  }

  /** Keep work first, in arrival order; then grow work while its lane has room. */
  private startNext(): void {
    while (this.running < this.opts.limit) {
      let i = this.queue.findIndex((w) => w.lane === 'keep');
      if (i < 0 && this.growing < this.opts.growLimit) i = this.queue.findIndex((w) => w.lane === 'grow');
      if (i < 0) return;
      const [next] = this.queue.splice(i, 1);
      if (!next) return;
      this.take(next.lane);
      next.start();
    }
  }
}
