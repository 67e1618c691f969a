// Stopping in reverse start order: every phase of a node (node/run.ts) pushes an undo step as it
// starts something, and its stop() runs them last-first. A step that throws is logged and the
// rest still run: a node that cannot close its status socket must still remove its TUN device.
// A phase that fails half-way runs what it started before rethrowing (startPhase), so a failed
// start leaves nothing behind either.
import type { Logger } from '../log/logger.js';
import { errorMessage } from '../log/error-message.js';

export type StopStep = () => Promise<void> | void;

/** What every phase returns beside its resources. */
export interface Stoppable {
  stop(): Promise<void>;
}

export class StopStack {
  private readonly steps: StopStep[] = [];

  constructor(private readonly log: Logger) {}

  push(step: StopStep): void {
    this.steps.push(step);
  }

  /** A started phase: its stop() runs in its place among the steps. */
  adopt<T extends Stoppable>(phase: T): T {
    this.push(() => phase.stop());
    return phase;
  }

  async stop(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      await Promise.resolve()
        .then(step)
        .catch((err: unknown) => this.log.warn('shutdown step failed', { component: 'node', error: errorMessage(err) }));
    }
  }
}

/** Runs a phase's start with its own stop stack: on success the phase stops through it, on failure it is undone at once. */
export async function startPhase<T extends object>(log: Logger, start: (steps: StopStack) => Promise<T>): Promise<T & Stoppable> {
  const steps = new StopStack(log);
  try {
    const resources = await start(steps);
    return { ...resources, stop: () => steps.stop() };
  } catch (err) {
    await steps.stop();
    throw err;
  }
}
