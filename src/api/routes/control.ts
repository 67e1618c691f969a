// Node-to-node control routes of the original, behind tokens. Thin: validate, call mesh, answer.
import Router from '@koa/router';
import type Koa from 'koa';
import type { ApiDeps } from '../contract.js';
import { requireAuth, type AuthState } from '../middleware/auth.js';
import { parseJson } from '../middleware/body.js';
import { refusable } from '../middleware/client-cert.js';
import { HttpError } from '../errors.js';
import { MeshError, MESH_ERROR_STATUS } from '../../mesh/errors.js';

const CONTROL = '/tunmesh/control/v0';
const AUTH = '/tunmesh/auth/v0';

/** Run a mesh call, mapping its typed refusals to the original's statuses. */
export async function meshCall<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof MeshError) throw new HttpError(MESH_ERROR_STATUS[err.kind], err.message, err.kind, 'text');
    throw err;
  }
}

export function controlRoutes(deps: ApiDeps, onAuthFailure: (reason: string) => void): Router {
  const router = new Router();
  const cluster = requireAuth(deps.auth, 'cluster', onAuthFailure);
  const session = requireAuth(deps.auth, 'session', onAuthFailure);
  const body = (ctx: Koa.Context): unknown => parseJson((ctx.state as AuthState).rawBody);
  const who = (ctx: Koa.Context) => (ctx.state as AuthState).auth;

  const register: Koa.Middleware = async (ctx) => {
    const payload = body(ctx);
    // Registration binds the claimed URL to the client certificate and checks the deny list.
    ctx.body = await refusable(() => meshCall(() => deps.control.register(who(ctx), payload)), onAuthFailure);
  };
  const initSession: Koa.Middleware = async (ctx) => {
    const payload = body(ctx);
    ctx.body = await meshCall(() => deps.control.initSession(who(ctx), payload));
  };

  router.post(`${CONTROL}/registrations/register`, cluster, register);
  router.post(`${CONTROL}/registrations/register/:sender_id`, session, register);
  router.post(`${AUTH}/init_session`, cluster, initSession);
  router.post(`${AUTH}/init_session/:sender_id`, session, initSession);
  // The original serves this dump to anyone; it is a topology leak, so we ask for a session token.
  // A GET has no body: the token's sig covers the empty string.
  router.get(`${CONTROL}/registrations/:sender_id`, session, (ctx) => {
    ctx.body = deps.control.registrations() as object;
  });
  return router;
}
