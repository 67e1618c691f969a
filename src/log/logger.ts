// Logging for every process of a node: readable lines on a TTY, JSON lines otherwise.
// Secrets never reach a log: callers log ids and reasons, and `redact` strips the few
// fields (secret, token, authorization) that could carry one by accident.
import winston from 'winston';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'auto' | 'json' | 'text';
export type Logger = winston.Logger;

const SECRET_FIELDS = new Set(['secret', 'token', 'authorization', 'password', 'privateKey', 'private_key']);

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_FIELDS.has(key)) info[key] = '[redacted]';
  }
  return info;
});

function textFormat(): winston.Logform.Format {
  return winston.format.combine(
    winston.format.timestamp(),
    winston.format.printf((info) => {
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
  const useText = format === 'text' || (format === 'auto' && Boolean((stream as { isTTY?: boolean }).isTTY));
  return winston.createLogger({
    level,
    format: winston.format.combine(redact(), useText ? textFormat() : winston.format.combine(winston.format.timestamp(), winston.format.json())),
    transports: [new winston.transports.Stream({ stream })],
  });
}

/** A logger for code that runs before config is loaded, and for tests. */
export function defaultLogger(): Logger {
  return createLogger((process.env.TUNMESH_LOG_LEVEL as LogLevel | undefined) ?? 'info', 'auto');
}
