// The data-plane workers fork last (after the privilege drop, node/phase-data.ts), but two parts
// built at boot need them: the channel port, which hands each accepted connection to a worker,
// and the status views, which count the live workers and collect their metrics. Both read the
// workers through this one slot, which the data-plane phase fills; until then the channel port
// refuses (the peer retries, or falls back to the API port) and the views see no worker.
import type net from 'node:net';
import type { Supervisor } from '../workers/supervisor.js';

export class WorkerSlot {
  private workers: Supervisor | undefined;
  private accepting = false;

  /** The workers run: the channel port hands them its connections from now on. */
  fill(workers: Supervisor): void {
    this.workers = workers;
    this.accepting = true;
  }

  /** Stopping: no more connections for the workers (the views still see them until they exit). */
  stopAccepting(): void {
    this.accepting = false;
  }

  get current(): Supervisor | undefined {
    return this.workers;
  }

  /** False when no worker takes the socket (the caller destroys it). */
  handOff(socket: net.Socket): boolean {
    return this.accepting && this.workers !== undefined ? this.workers.handOff(socket) : false;
  }
}
