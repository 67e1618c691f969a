// A worker's side of the channel upgrade check: the request's Authorization header, the sender
// it names and the client certificate of the connection go to main (node/channel-checks.ts),
// which runs the same checks as for an upgrade on the API port (session token, client
// certificate, deny list, SAN binding); its verdict settles the upgrade here. No key material
// is held by workers for this.
import type { Duplex } from 'node:stream';
import type { UpgradeVerdict, WorkerToMain } from '../contract.js';
import { ChannelError } from '../errors.js';
import type { ReceiveAuth } from '../receive.js';
import { presentedCert } from '../../security/client-cert.js';
import { RelayedRefusal } from '../../security/refusal.js';

interface Pending {
  resolve(auth: ReceiveAuth): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class UpgradeChecks {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly worker: number,
    private readonly tell: (msg: WorkerToMain) => void,
    private readonly timeoutMs: number,
  ) {}

  /** Asks main whether `authorization` opens a channel from `peerId` on this connection. */
  check(authorization: string | undefined, peerId: string, socket: Duplex): Promise<ReceiveAuth> {
    const id = this.nextId++;
    return new Promise<ReceiveAuth>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ChannelError('the main process did not answer the upgrade check in time'));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.tell({ type: 'upgrade_check', worker: this.worker, id, authorization, peerId, cert: presentedCert(socket) });
    });
  }

  /** Main's answer to check() number `id`. */
  settle(id: number, verdict: UpgradeVerdict): void {
    const p = this.pending.get(id);
    if (p === undefined) return; // timed out meanwhile
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (verdict.ok) p.resolve({ peerId: verdict.peerId, ...(verdict.keyId === undefined ? {} : { keyId: verdict.keyId }) });
    else p.reject(new RelayedRefusal({ status: verdict.status, reason: verdict.reason }, verdict.message));
  }

  close(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ChannelError('worker stopping'));
    }
    this.pending.clear();
  }
}
