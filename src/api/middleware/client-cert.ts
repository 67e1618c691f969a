// Mutual TLS per route: every /tunmesh/ request but node_info has its client certificate
// checked (src/security/client-cert.ts) before its token; /health, /metrics and node_info stay
// open to probes and scrapers on the same port. The verified certificate goes to ctx.state for
// the token check (identity binding) and the registration handler.
import type Koa from 'koa';
import type { ClientCertChecks } from '../contract.js';
import type { ClientCert } from '../../security/client-cert.js';
import { refusedError } from '../refusals.js';
import { NODE_INFO, TUNMESH_ROUTES_PREFIX } from '../../protocol/original-routes.js';

export interface ClientCertState {
  clientCert?: ClientCert | null;
}

const OPEN = new Set([NODE_INFO]);

export function clientCertGate(checks: ClientCertChecks, onFailure: (reason: string) => void): Koa.Middleware {
  return async (ctx, next) => {
    if (!ctx.path.startsWith(TUNMESH_ROUTES_PREFIX) || OPEN.has(ctx.path)) return next();
    try {
      (ctx.state as ClientCertState).clientCert = checks.inspect(ctx.req.socket);
    } catch (err) {
      throw refusedError(err, onFailure);
    }
    return next();
  };
}
