// `tunmesh run`: load config, start the node, and stop it cleanly on SIGTERM/SIGINT.
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/errors.js';
import { createLogger, type Logger } from '../log/logger.js';
import { startNode, type RunningNode } from '../node/run.js';
import type { CommandIo } from './config-command.js';
import { errorMessage } from '../log/error-message.js';

const DEFAULT_CONFIG_PATH = '/etc/tunmesh/config.yaml';
/** A stop that hangs must not keep an orchestrator waiting for its kill timeout. */
const STOP_TIMEOUT_MS = 10_000;

export function parseRunArgs(args: string[], env: NodeJS.ProcessEnv): { configPath: string } | { error: string } {
  let configPath = env.TUNMESH_CONFIG_PATH || DEFAULT_CONFIG_PATH;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--config' || arg === '-c') {
      const value = args[++i];
      if (!value) return { error: `${arg} needs a file path` };
      configPath = value;
    } else if (arg.startsWith('--config=')) {
      configPath = arg.slice('--config='.length);
    } else {
      return { error: `unknown option '${arg}'` };
    }
  }
  return { configPath };
}

export async function runCommand(args: string[], io: CommandIo): Promise<number> {
  const parsed = parseRunArgs(args, process.env);
  if ('error' in parsed) {
    io.stderr(`tunmesh run: ${parsed.error}\n`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(parsed.configPath);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`tunmesh: invalid config: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger(config.logging.level, config.logging.format);
  let node: RunningNode;
  try {
    node = await startNode(config, log);
  } catch (err) {
    log.error(`cannot start: ${errorMessage(err)}`, { component: 'node' });
    log.debug('start failure detail', { component: 'node', error: err instanceof Error ? err.stack : String(err) });
    return 1;
  }
  return waitForSignals(node, log);
}

function waitForSignals(node: RunningNode, log: Logger): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (why: string, code: number) => {
      if (stopping) return;
      stopping = true;
      log.info('shutting down', { component: 'node', why });
      const timer = setTimeout(() => {
        log.error('shutdown timed out, exiting', { component: 'node', timeoutMs: STOP_TIMEOUT_MS });
        process.exit(1);
      }, STOP_TIMEOUT_MS);
      timer.unref();
      node.stop().then(
        () => resolve(code),
        (err: unknown) => {
          log.error('shutdown failed', { component: 'node', error: errorMessage(err) });
          resolve(1);
        },
      );
    };
    // SIGHUP re-reads the TLS material and the deny list (node/security.ts); it never stops the node.
    process.on('SIGHUP', () => {
      log.info('SIGHUP: reloading TLS material and deny list', { component: 'node' });
      node.reload();
    });
    process.once('SIGTERM', () => stop('SIGTERM', 0));
    process.once('SIGINT', () => stop('SIGINT', 0));
    process.on('uncaughtException', (err) => {
      log.error('unexpected error', { component: 'node', error: err.stack ?? err.message });
      stop('uncaught exception', 1);
    });
    process.on('unhandledRejection', (err) => {
      log.error('unexpected rejection', { component: 'node', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    });
  });
}
