// Node-to-node control routes of the original, behind tokens. Thin: validate, call mesh, answer.
import Router from '@koa/router';
import type Koa from 'koa';
import type { ApiDeps } from '../contract.js';
import { requireAuth, type AuthState } from '../middleware/auth.js';
import { parseJson } from '../middleware/body.js';
import { meshCall, refusable } from '../refusals.js';
import { forSender, INIT_SESSION, REGISTER, REGISTRATIONS, SENDER_PARAM } from '../../protocol/original-routes.js';

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

  router.post(REGISTER, cluster, register);
  router.post(forSender(REGISTER, SENDER_PARAM), session, register);
  router.post(INIT_SESSION, cluster, initSession);
  router.post(forSender(INIT_SESSION, SENDER_PARAM), session, initSession);
  // The original serves this dump to anyone; it is a topology leak, so we ask for a session token.
  // A GET has no body: the token's sig covers the empty string.
  router.get(forSender(REGISTRATIONS, SENDER_PARAM), session, (ctx) => {
    ctx.body = deps.control.registrations() as object;
  });
  return router;
}
