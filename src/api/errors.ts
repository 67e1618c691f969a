// The one error type route handlers and middleware throw; `middleware/errors.ts` turns it into
// a response. `expose` text is safe to show a client; anything else becomes a bare 500.
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string = 'error',
    readonly contentType: 'json' | 'text' = 'json',
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string, reason = 'bad_request'): HttpError => new HttpError(400, message, reason);
export const notFound = (message: string, reason = 'not_found'): HttpError => new HttpError(404, message, reason);
