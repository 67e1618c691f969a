// The channel session check runs only while there is something to watch (issue 19: an idle node's
// processes must not wake twice a second for nothing). Real timers, real intervals.
import { expect } from 'chai';
import { SESSION_CHECK_MS, SessionCheck } from '../../src/dataplane/session-check.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('SessionCheck', function () {
  this.timeout(10_000);

  it('does not run before anything is armed', async () => {
    let runs = 0;
    const check = new SessionCheck(() => ++runs > 0);
    await sleep(SESSION_CHECK_MS * 2.5);
    check.stop();
    expect(runs).to.equal(0);
  });

  it('runs while the check reports something left to watch, stops when nothing is, and runs again once re-armed', async () => {
    let runs = 0;
    let watching = 3;
    const check = new SessionCheck(() => {
      runs++;
      return --watching > 0;
    });
    check.arm();
    check.arm(); // arming twice keeps one timer
    await sleep(SESSION_CHECK_MS * 5.5);
    expect(runs, 'three runs, the last one reporting nothing left').to.equal(3);
    watching = 1;
    check.arm();
    await sleep(SESSION_CHECK_MS * 2.5);
    check.stop();
    expect(runs).to.equal(4);
  });
});
