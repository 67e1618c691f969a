// The one place a /tunmesh request's token is checked. Routes declare which token they take;
// this middleware verifies it over the raw body, stores who sent it in ctx.state.auth, and
// signs JSON responses over their exact bytes (the original's signed-response rule).
import type Koa from 'koa';
import type { AuthMode, Authenticator, RequestAuth } from '../../mesh/authenticator.js';
import type { BodyState } from './body.js';
import { HttpError } from '../errors.js';
import type { ClientCertState } from './client-cert.js';
import { tokenRefusal } from '../refusals.js';

export interface AuthState extends BodyState, ClientCertState {
  auth: RequestAuth;
}

/** signsAnswer: false for routes that answer 204 (packets): no session back is needed. */
export function requireAuth(auth: Authenticator, mode: AuthMode, onFailure: (reason: string) => void, signsAnswer = true): Koa.Middleware {
  return async (ctx, next) => {
    const state = ctx.state as AuthState;
    const expectedPeer = typeof ctx.params?.sender_id === 'string' ? (ctx.params.sender_id as string) : undefined;
    try {
      state.auth = await auth.authenticate(ctx.get('authorization') || undefined, state.rawBody ?? Buffer.alloc(0), mode, expectedPeer, state.clientCert ?? null);
    } catch (err) {
      throw tokenRefusal(err, onFailure);
    }
    try {
      if (signsAnswer) await auth.prepareAnswer(state.auth);
    } catch {
      // We could not open our own session back to the requester: refuse before doing anything.
      throw new HttpError(503, 'Cannot sign an answer to this node yet; retry', 'no_session_back');
    }
    await next();
    if (ctx.status === 200 && ctx.body !== undefined && typeof ctx.body === 'object' && !Buffer.isBuffer(ctx.body)) {
      const json = JSON.stringify(ctx.body);
      ctx.set('Authorization', await auth.signResponse(state.auth, json));
      ctx.type = 'application/json';
      ctx.body = json;
    }
  };
}
