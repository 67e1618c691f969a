// `tunmesh run`: load config, start the node, and stop it cleanly on SIGTERM/SIGINT.
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/errors.js';
import { createLogger, type Logger } from '../log/logger.js';
import { startNode, type RunningNode, type StartHooks } from '../node/run.js';
import { StartAborted } from '../node/claim.js';
import { AddressInUse } from '../mesh/address-claim.js';
import { addressChoice, withNodeAddress } from '../config/allocate.js';
import type { TunmeshConfig } from '../config/types.js';
import type { CommandIo } from './config-command.js';
import { errorMessage } from '../log/error-message.js';

const DEFAULT_CONFIG_PATH = '/etc/tunmesh/config.yaml';
/** A stop that hangs must not keep an orchestrator waiting for its kill timeout. */
const STOP_TIMEOUT_MS = 10_000;

function parseRunArgs(args: string[], env: NodeJS.ProcessEnv): { configPath: string } | { error: string } {
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
  // A stop asked for during start-up (an allocated address's claim window lasts seconds).
  const abort = new AbortController();
  const early = (signal: NodeJS.Signals): void => {
    log.info('shutting down during start-up', { component: 'node', why: signal });
    abort.abort();
  };
  process.once('SIGTERM', early);
  process.once('SIGINT', early);
  // A conflict found between the claim window's end and the end of start-up waits for the stop
  // below instead of being dropped (the claim watch reports a conflict once).
  let lostDuringStart: AddressInUse | undefined;
  let onLost = (err: AddressInUse): void => void (lostDuringStart ??= err);
  let node: RunningNode;
  try {
    node = await startMoving(config, log, { signal: abort.signal, addressLost: (err) => onLost(err) });
  } catch (err) {
    if (err instanceof StartAborted) return 0;
    log.error(`cannot start: ${errorMessage(err)}`, { component: 'node' });
    log.debug('start failure detail', { component: 'node', error: err instanceof Error ? err.stack : String(err) });
    return 1;
  } finally {
    process.off('SIGTERM', early);
    process.off('SIGINT', early);
  }
  if (abort.signal.aborted) {
    await node.stop();
    return 0;
  }
  return waitForSignals(node, log, (stop) => {
    onLost = (err) => {
      log.error('allocated address taken by a node that keeps it: exiting, the restart moves to a free address', { component: 'mesh', address: err.address, keeper: err.keeper, exitCode: EXIT_ADDRESS_LOST });
      stop('address conflict', EXIT_ADDRESS_LOST);
    };
    if (lostDuringStart !== undefined) onLost(lostDuringStart);
  });
}

/** Exit code of a node whose allocated address was found taken after start-up (EX_TEMPFAIL: restart me). */
const EXIT_ADDRESS_LOST = 75;
/** Moves in one start-up at most (each takes a claim window); more means the range is crowded. */
const MAX_ADDRESS_MOVES = 16;

/**
 * startNode, and with an allocated address found taken in the claim window, again at the next
 * free choice (every address the registry showed skipped).
 */
async function startMoving(config: TunmeshConfig, log: Logger, hooks: StartHooks): Promise<RunningNode> {
  const taken = new Set<string>();
  for (let moves = 0; ; moves++) {
    try {
      return await startNode(config, log, hooks);
    } catch (err) {
      const seed = config.networking.ipv4.allocationSeed;
      if (hooks.signal?.aborted) throw new StartAborted();
      if (!(err instanceof AddressInUse) || seed === null || moves >= MAX_ADDRESS_MOVES) throw err;
      for (const address of [...err.taken, err.address]) taken.add(address);
      config = withNodeAddress(config, addressChoice(config.networking.ipv4.networkCidr, seed, taken));
      log.warn('allocated address in use: starting again at the next free one', { component: 'mesh', address: err.address, keeper: err.keeper, next: config.networking.ipv4.nodeAddressCidr, move: moves + 1 });
    }
  }
}

function waitForSignals(node: RunningNode, log: Logger, onStop: (stop: (why: string, code: number) => void) => void): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (why: string, code: number) => {
      if (stopping) return;
      stopping = true;
      log.info('shutting down', { component: 'node', why });
      // A stop that overruns still exits with what it stopped for (75: restart me, I must move),
      // or 1 for an unclean end of a clean stop.
      const timer = setTimeout(() => {
        log.error('shutdown timed out, exiting', { component: 'node', timeoutMs: STOP_TIMEOUT_MS, exitCode: code === 0 ? 1 : code });
        process.exit(code === 0 ? 1 : code);
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
    onStop(stop);
    // SIGHUP re-reads the TLS material and the deny list (node/security.ts); it never stops the node.
    process.on('SIGHUP', () => {
      log.info('SIGHUP: reloading TLS material, deny list and firewall rules', { component: 'node' });
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
