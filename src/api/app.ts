// The API, assembled from small middleware at the edges (koa style):
//   errors -> client certificate (mutual TLS, /tunmesh/ routes) -> body (POST: exact content type, bounded raw body) -> routers.
// Routers: open (health, metrics, node_info, status), control (registration, sessions) and
// packets (the original JSON data path). Auth is per route, in middleware/auth.ts.
import Koa from 'koa';
import type { ApiDeps } from './contract.js';
import type { Logger } from '../log/logger.js';
import { errorResponses } from './middleware/errors.js';
import { rawJsonBody } from './middleware/body.js';
import { clientCertGate } from './middleware/client-cert.js';
import { openRoutes } from './routes/open.js';
import { controlRoutes } from './routes/control.js';
import { packetRoutes } from './routes/packets.js';

export function createApp(deps: ApiDeps, log: Logger, onAuthFailure: (reason: string) => void): Koa {
  const app = new Koa();
  app.silent = true; // errors are logged once, by errorResponses
  app.use(errorResponses(log));
  if (deps.clientCerts) app.use(clientCertGate(deps.clientCerts, onAuthFailure));
  app.use(rawJsonBody());
  for (const router of [openRoutes(deps), controlRoutes(deps, onAuthFailure), packetRoutes(deps, onAuthFailure)]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
