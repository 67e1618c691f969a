// Logging for every process of a node: readable lines on a TTY, JSON lines otherwise.
// Secrets never reach a log: callers log ids and reasons, and `redact` strips the few
// fields (secret, token, authorization) that could carry one by accident.
//
// winston is loaded on first use, not on import: a data-plane worker logs next to nothing and
// takes a lazyLogger(), so it never loads winston and its dependencies (~2.5 MB of its RSS)
// unless it has something to say.
import { createRequire } from 'node:module';
import type winston from 'winston';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'auto' | 'json' | 'text';
export type Logger = winston.Logger;

/** The levels the data plane logs at: what a lazyLogger() offers (a winston Logger is one). */
export interface LevelLogger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
}

const SECRET_FIELDS = new Set(['secret', 'token', 'authorization', 'password', 'privateKey', 'private_key']);

/** winston's npm levels, as far as ours go: a message is logged when its rank <= the logger's. */
const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 5 };

let loaded: typeof winston | undefined;
const load = (): typeof winston => (loaded ??= createRequire(import.meta.url)('winston') as typeof winston);

function redact(w: typeof winston): winston.Logform.Format {
  return w.format((info) => {
    for (const key of Object.keys(info)) {
      if (SECRET_FIELDS.has(key)) info[key] = '[redacted]';
    }
    return info;
  })();
}

function textFormat(w: typeof winston): winston.Logform.Format {
  return w.format.combine(
    w.format.timestamp(),
    w.format.printf((info) => {
      const { timestamp, level, message, component, ...rest } = info;
      const fields = Object.entries(rest)
        .filter(([k]) => typeof k === 'string' && !k.startsWith('Symbol('))
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      const where = component ? ` [${String(component)}]` : '';
      return `${String(timestamp)} ${level}${where} ${String(message)}${fields ? ' ' + fields : ''}`;
    }),
  );
}

export function createLogger(level: LogLevel, format: LogFormat = 'auto', stream: NodeJS.WritableStream = process.stderr): Logger {
  const w = load();
  const useText = format === 'text' || (format === 'auto' && Boolean((stream as { isTTY?: boolean }).isTTY));
  return w.createLogger({
    level,
    format: w.format.combine(redact(w), useText ? textFormat(w) : w.format.combine(w.format.timestamp(), w.format.json())),
    transports: [new w.transports.Stream({ stream })],
  });
}

/**
 * createLogger(level, format), plus `meta` on every line, made only when a message at an enabled
 * level first comes: until then nothing is loaded. Messages below `level` cost one comparison.
 */
export function lazyLogger(level: LogLevel, format: LogFormat = 'auto', meta?: Record<string, unknown>): LevelLogger {
  let real: Logger | undefined;
  const at =
    (msgLevel: LogLevel) =>
    (message: string, ...fields: [Record<string, unknown>?]): void => {
      if (RANK[msgLevel] > RANK[level]) return;
      real ??= meta === undefined ? createLogger(level, format) : createLogger(level, format).child(meta);
      real[msgLevel](message, ...fields);
    };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}
