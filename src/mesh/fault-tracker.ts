// Backoff after failures, per peer and activity (the original blocks a peer for one groom
// interval after any failure; we back off exponentially with jitter so a dead peer costs
// little and a flapping one does not synchronise retries across the mesh).
export class FaultTracker {
  private failures = 0;
  private blockedUntil = 0;

  constructor(
    private readonly baseSeconds: number,
    private readonly maxSeconds: number,
  ) {}

  blocked(now: number): boolean {
    return now < this.blockedUntil;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  fail(now: number): void {
    this.failures++;
    const backoff = Math.min(this.maxSeconds, this.baseSeconds * 2 ** (this.failures - 1));
    this.blockedUntil = now + backoff * (0.75 + Math.random() * 0.5);
  }

  succeed(): void {
    this.failures = 0;
    this.blockedUntil = 0;
  }
}
