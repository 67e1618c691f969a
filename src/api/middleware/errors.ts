// Outermost middleware: every thrown error ends here as a JSON (or text) body with a status.
// Clients never see a stack trace; unexpected errors are logged with theirs.
import type Koa from 'koa';
import { HttpError } from '../errors.js';
import type { Logger } from '../../log/logger.js';

export function errorResponses(log: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof HttpError) {
        ctx.status = err.status;
        if (err.contentType === 'text') {
          ctx.type = 'text/plain';
          ctx.body = err.message;
        } else {
          ctx.body = { error: err.message, reason: err.reason };
        }
        log.debug('request refused', { component: 'api', method: ctx.method, path: ctx.path, status: err.status, reason: err.reason });
        return;
      }
      log.error('request failed', { component: 'api', method: ctx.method, path: ctx.path, error: err instanceof Error ? err.stack : String(err) });
      ctx.status = 500;
      ctx.body = { error: 'Internal error', reason: 'internal' };
    }
  };
}
