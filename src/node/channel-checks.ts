// Main's side of the channels workers receive (dataplane/fast/upgrade-checks.ts): each upgrade a worker
// reads is checked here exactly as one on the API port is (the authenticator: session token of
// the named sender, client certificate under tunmesh.tls.client_auth, deny list, SAN binding),
// and the verdict goes back to that worker. Main remembers the session keys it let channels open
// with; once one stops verifying (rotated past its overlap, its peer forgotten or denied) every
// worker is told to close the channels opened with it, as the main process's own receive path
// does for its channels (dataplane/session-check.ts): while main has granted any.
import type { MainToWorker, UpgradeVerdict, WorkerToMain } from '../dataplane/contract.js';
import type { ReceiveAuth } from '../dataplane/receive.js';
import { SessionCheck } from '../dataplane/session-check.js';
import type { Logger } from '../log/logger.js';
import { errorMessage } from '../log/error-message.js';
import type { PresentedCert } from '../security/client-cert.js';
import { refusalOf } from '../security/refusal.js';

export interface ChannelCheckDeps {
  /** The API port's upgrade check, with the certificate the worker's connection presented. */
  authenticate(authorization: string | undefined, peerId: string, cert: PresentedCert | null): Promise<ReceiveAuth>;
  keyLive(keyId: string): boolean;
  onRefused(reason: string): void;
  tell(worker: number, msg: MainToWorker): void;
  broadcast(msg: MainToWorker): void;
  log: Logger;
}

export class ChannelChecks {
  /** Session keys channels in workers were opened with, still live at the last check. */
  private readonly granted = new Set<string>();
  private readonly sessionCheck = new SessionCheck(() => this.endDeadSessions());

  constructor(private readonly deps: ChannelCheckDeps) {}

  /** A worker's upgrade_check: answered with its verdict, never left without one. */
  check(msg: Extract<WorkerToMain, { type: 'upgrade_check' }>): void {
    this.verdictOf(msg).then(
      (verdict) => this.deps.tell(msg.worker, { type: 'upgrade_verdict', id: msg.id, verdict }),
      (err: unknown) => this.deps.log.warn('upgrade check failed', { component: 'dataplane', error: errorMessage(err) }),
    );
  }

  stop(): void {
    this.sessionCheck.stop();
  }

  private async verdictOf(msg: Extract<WorkerToMain, { type: 'upgrade_check' }>): Promise<UpgradeVerdict> {
    try {
      const auth = await this.deps.authenticate(msg.authorization, msg.peerId, msg.cert);
      if (auth.keyId !== undefined) {
        this.granted.add(auth.keyId);
        this.sessionCheck.arm();
      }
      return { ok: true, peerId: auth.peerId, ...(auth.keyId === undefined ? {} : { keyId: auth.keyId }) };
    } catch (err) {
      const refusal = refusalOf(err) ?? { status: 401 as const, reason: 'malformed_token' };
      this.deps.onRefused(refusal.reason);
      return { ok: false, status: refusal.status, reason: refusal.reason, message: errorMessage(err) };
    }
  }

  /** Tells the workers which granted keys died; says whether any granted key is left to watch. */
  private endDeadSessions(): boolean {
    const dead = [...this.granted].filter((keyId) => !this.deps.keyLive(keyId));
    for (const keyId of dead) this.granted.delete(keyId);
    if (dead.length > 0) this.deps.broadcast({ type: 'sessions_ended', keyIds: dead });
    return this.granted.size > 0;
  }
}
