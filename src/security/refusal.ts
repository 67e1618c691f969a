// How a refused peer request is classified: 401 where the peer did not prove who it is, 403
// where it did and is refused (certificate refusals and `denied`), with the reason counted.
// Shared by the API (api/refusals.ts, which maps every refusal to its answer) and the fast-path
// upgrade, which answers on a raw socket below the API.
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
