// Mutual TLS per route: every /tunmesh/ request but node_info has its client certificate
// checked (src/security/client-cert.ts) before its token; /health, /metrics and node_info stay
// open to probes and scrapers on the same port. The verified certificate goes to ctx.state for
// the token check (identity binding) and the registration handler.
import type Koa from 'koa';
import type { ClientCertChecks } from '../contract.js';
import type { ClientCert } from '../../security/client-cert.js';
import { refusalOf } from '../../security/refusal.js';
import { HttpError } from '../errors.js';

export interface ClientCertState {
  clientCert?: ClientCert | null;
}

const GUARDED = '/tunmesh/';
const OPEN = new Set(['/tunmesh/control/v0/node_info']);

export function clientCertGate(checks: ClientCertChecks, onFailure: (reason: string) => void): Koa.Middleware {
  return async (ctx, next) => {
    if (!ctx.path.startsWith(GUARDED) || OPEN.has(ctx.path)) return next();
    try {
      (ctx.state as ClientCertState).clientCert = checks.inspect(ctx.req.socket);
    } catch (err) {
      throw refusedError(err, onFailure);
    }
    return next();
  };
}

/** Counts a refusal and turns it into the answer; anything that is not a refusal passes through. */
export function refusedError(err: unknown, onFailure: (reason: string) => void): unknown {
  const refusal = refusalOf(err);
  if (refusal === null) return err;
  onFailure(refusal.reason);
  return new HttpError(refusal.status, refusal.status === 403 ? 'Forbidden' : 'Unauthorized', refusal.reason);
}

/** Runs a handler whose mesh or security checks may refuse the peer (registration: SAN binding, deny list). */
export async function refusable<T>(fn: () => Promise<T>, onFailure: (reason: string) => void): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw refusedError(err, onFailure);
  }
}
