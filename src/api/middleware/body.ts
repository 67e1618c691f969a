// Request bodies for /tunmesh POST routes, read raw because the JWT `sig` claim covers the
// exact bytes. The original's rule: Content-Type must equal `application/json` exactly.
import type Koa from 'koa';
import { HttpError } from '../errors.js';

const MAX_BODY_BYTES = 4 * 1024 * 1024; // a full legacy batch: 1024 packets of ~2 KB JSON

export interface BodyState {
  rawBody: Buffer;
}

function readRawBody(ctx: Koa.Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || '0');
  if (declared > limit) return Promise.reject(new HttpError(413, `Body larger than ${limit} bytes`, 'body_too_large'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    ctx.req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, `Body larger than ${limit} bytes`, 'body_too_large'));
        ctx.req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    ctx.req.on('end', () => resolve(Buffer.concat(chunks, size)));
    ctx.req.on('error', reject);
  });
}

/** POST bodies: exact content type, bounded size, kept raw in ctx.state.rawBody. */
export function rawJsonBody(limit = MAX_BODY_BYTES): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'POST') return next();
    if (ctx.get('content-type') !== 'application/json') {
      throw new HttpError(400, 'Content-Type must be application/json', 'bad_content_type', 'text');
    }
    (ctx.state as BodyState).rawBody = await readRawBody(ctx, limit);
    return next();
  };
}

/** Parse the raw body as JSON, 400 on anything malformed. Shapes are checked by the caller. */
export function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'Malformed JSON body', 'malformed_json');
  }
}
