// The original's JSON packet routes (the interop data path). Each Packet is checked and
// decoded in src/transport; here we only authenticate, parse, and hand the batch over.
import Router from '@koa/router';
import type Koa from 'koa';
import type { ApiDeps } from '../contract.js';
import { requireAuth, type AuthState } from '../middleware/auth.js';
import { parseJson } from '../middleware/body.js';
import { badRequest } from '../errors.js';
import { meshCall } from '../refusals.js';
import { BATCH, forSender, PACKET_RX, SENDER_PARAM } from '../../protocol/original-routes.js';

const RX = forSender(PACKET_RX, SENDER_PARAM);

export function packetRoutes(deps: ApiDeps, onAuthFailure: (reason: string) => void): Router {
  const router = new Router();
  const session = requireAuth(deps.auth, 'session', onAuthFailure, false);
  const sender = (ctx: Koa.Context): string => (ctx.state as AuthState).auth.peerId;

  router.post(RX, session, async (ctx) => {
    const packet = parseJson((ctx.state as AuthState).rawBody);
    await meshCall(() => deps.packets.receiveLegacy(sender(ctx), [packet]));
    ctx.status = 204;
  });
  // The batch body is an array of Packet JSON *strings* (the original double-encodes).
  router.post(`${RX}${BATCH}`, session, async (ctx) => {
    const list = parseJson((ctx.state as AuthState).rawBody);
    if (!Array.isArray(list)) throw badRequest('Batch body must be a JSON array', 'invalid');
    const packets = list.map((item: unknown) => (typeof item === 'string' ? parseJson(Buffer.from(item)) : item));
    await meshCall(() => deps.packets.receiveLegacy(sender(ctx), packets));
    ctx.status = 204;
  });
  return router;
}
