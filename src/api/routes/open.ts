// Open routes for orchestrators and scrapers: no token, nothing secret.
import Router from '@koa/router';
import type { ApiDeps } from '../contract.js';
import { HEALTH, HEALTH_LIVE, HEALTH_READY, METRICS, NODE_INFO } from '../../protocol/original-routes.js';

export function openRoutes(deps: ApiDeps): Router {
  const router = new Router();
  router.get(HEALTH, (ctx) => {
    const report = deps.health();
    ctx.status = report.healthy ? 200 : 503;
    ctx.body = report.components;
  });
  router.get(HEALTH_LIVE, (ctx) => {
    const report = deps.health();
    ctx.status = report.live ? 200 : 503;
    ctx.body = { live: report.live };
  });
  router.get(HEALTH_READY, (ctx) => {
    const report = deps.health();
    ctx.status = report.ready ? 200 : 503;
    ctx.body = { ready: report.ready };
  });
  router.get(METRICS, async (ctx) => {
    if (!deps.metrics) {
      ctx.status = 404;
      ctx.body = { error: 'Metrics are disabled (monitoring.method: none)', reason: 'metrics_disabled' };
      return;
    }
    ctx.type = deps.metrics.contentType;
    ctx.body = await deps.metrics.render();
  });
  router.get(NODE_INFO, (ctx) => {
    ctx.body = deps.control.nodeInfo();
  });
  return router;
}
