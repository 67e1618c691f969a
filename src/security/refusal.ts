// One mapping from a refused peer request to its HTTP status and counted reason, shared by the
// Koa routes and the fast-path upgrade: certificate refusals and `denied` are 403 where the
// peer is known and refused, 401 where it did not prove who it is.
import { AuthError } from '../auth/errors.js';
import { CertRefusal } from './client-cert.js';

export interface Refusal {
  status: 401 | 403;
  reason: string;
}

/** A refusal decided in another process (main, for a channel a worker received), carried back as is. */
export class RelayedRefusal extends Error {
  override readonly name = 'RelayedRefusal';

  constructor(
    readonly refusal: Refusal,
    message: string,
  ) {
    super(`${refusal.reason}: ${message}`);
  }
}

/** The refusal an error stands for, or null when it is not one (a bug, a mesh refusal). */
export function refusalOf(err: unknown): Refusal | null {
  if (err instanceof RelayedRefusal) return err.refusal;
  if (err instanceof CertRefusal) return { status: err.status === 403 ? 403 : 401, reason: err.reason };
  if (err instanceof AuthError) return { status: err.reason === 'denied' ? 403 : 401, reason: err.reason };
  return null;
}
