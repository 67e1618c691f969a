// The periodic check that closes channels whose session key stopped verifying (rotated past its
// overlap, its peer forgotten or denied). It runs only while there are channels opened under a
// session key: an idle node has none (channels close when idle), and a timer that fires twice a
// second for nothing is a wake-up of every process of every node (issue 19, idle CPU).

/** How often a channel's session key is checked while any channel has one. */
export const SESSION_CHECK_MS = 500;

export class SessionCheck {
  private timer: NodeJS.Timeout | undefined;

  /** `check` ends what is dead and says whether anything is left to watch. */
  constructor(private readonly check: () => boolean) {}

  /** Something to watch was added: the check runs (again) from now on. */
  arm(): void {
    this.timer ??= setInterval(() => this.run(), SESSION_CHECK_MS).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private run(): void {
    if (!this.check()) this.stop();
  }
}
