// Deferred control work, told once in a while instead of once per request: under overload a
// node defers hundreds of requests a second, and a log line each would be load of its own.
import type { Logger } from '../log/logger.js';
import type { Lane } from './pacer.js';

/** At most one summary line this often (ms). */
const SUMMARY_EVERY_MS = 10_000;

export class DeferralLog {
  private readonly counts: Record<Lane, number> = { keep: 0, grow: 0 };
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly count: (lane: Lane) => void,
  ) {}

  deferred(lane: Lane): void {
    this.count(lane);
    this.counts[lane]++;
    this.timer ??= setTimeout(() => this.flush(), SUMMARY_EVERY_MS).unref();
  }

  private flush(): void {
    this.timer = undefined;
    const { keep, grow } = this.counts;
    this.counts.keep = 0;
    this.counts.grow = 0;
    this.log.info('control work deferred', {
      component: 'mesh',
      seconds: SUMMARY_EVERY_MS / 1000,
      keepLinks: keep,
      newLinks: grow,
      why: 'requests waited for a slot: the node is short of CPU or its peers answer slowly',
    });
  }
}
