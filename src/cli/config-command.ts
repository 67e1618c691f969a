/**
 * `tunmesh config ...`: the config checker and the example generator.
 *
 *   tunmesh config check [FILE]   validate FILE (default $TUNMESH_CONFIG_PATH or /etc/tunmesh/config.yaml)
 *   tunmesh config example        print a commented example config
 *
 * Exit codes: 0 ok, 2 invalid config or usage error, 1 anything unexpected. Errors are printed as
 * messages, never stack traces: the reader is an operator fixing a file.
 */
import { ConfigError } from '../config/errors.js';
import { EXAMPLE_SECRET, exampleConfigYaml } from '../config/example.js';
import { loadConfig } from '../config/load.js';
import type { TunmeshConfig } from '../config/types.js';
import { errorMessage } from '../log/error-message.js';

export interface CommandIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const EXIT_OK = 0;
export const EXIT_UNEXPECTED = 1;
export const EXIT_INVALID = 2;

const DEFAULT_CONFIG_PATH = '/etc/tunmesh/config.yaml';

const USAGE = `usage: tunmesh config check [FILE]   validate a config (default $TUNMESH_CONFIG_PATH or ${DEFAULT_CONFIG_PATH})
       tunmesh config example        print a commented example config
`;

/**
 * Runs a config subcommand. `args` are the words after `tunmesh config` (a leading "config" is
 * accepted too, so callers may pass argv from the subcommand name on). Returns the exit code.
 */
export function runConfigCommand(args: string[], io: CommandIo, env: NodeJS.ProcessEnv = process.env): number {
  const words = args[0] === 'config' ? args.slice(1) : args;
  const [sub, ...rest] = words;
  switch (sub) {
    case 'check':
      if (rest.length > 1) return usageError(io, 'config check takes at most one FILE');
      return check(rest[0] ?? env['TUNMESH_CONFIG_PATH'] ?? DEFAULT_CONFIG_PATH, io, env);
    case 'example':
      if (rest.length > 0) return usageError(io, 'config example takes no arguments');
      io.stdout(exampleConfigYaml());
      return EXIT_OK;
    case '-h':
    case '--help':
    case 'help':
      io.stdout(USAGE);
      return EXIT_OK;
    case undefined:
      return usageError(io, 'missing subcommand');
    default:
      return usageError(io, `unknown subcommand "${sub}"`);
  }
}

function usageError(io: CommandIo, message: string): number {
  io.stderr(`tunmesh config: ${message}\n${USAGE}`);
  return EXIT_INVALID;
}

function check(path: string, io: CommandIo, env: NodeJS.ProcessEnv): number {
  let config: TunmeshConfig;
  try {
    config = loadConfig(path, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`${err.message}\n`);
      return EXIT_INVALID;
    }
    io.stderr(`tunmesh config check: unexpected error: ${errorMessage(err)}\n`);
    return EXIT_UNEXPECTED;
  }
  io.stdout(`ok: ${path}\n${summary(config)}`);
  if (config.clustering.auth.secret === EXAMPLE_SECRET) {
    io.stderr('warning: tun_mesh/clustering/auth/secret is still the example placeholder; set a random secret\n');
  }
  return EXIT_OK;
}

function summary(config: TunmeshConfig): string {
  const groups = Object.entries(config.clustering.bootstrapGroups)
    .map(([name, g]) => `${name} (${g.bootstrapNodeUrls.length} url${g.bootstrapNodeUrls.length === 1 ? '' : 's'})`);
  const lines = [
    `advertise url:    ${config.clustering.controlApiAdvertiseUrl} (listening on ${config.controlApi.listenAddress ? `${config.controlApi.listenAddress} ` : ''}port ${config.controlApi.listenPort})`,
    `node address:     ${config.networking.ipv4.nodeAddressCidr} in mesh ${config.networking.ipv4.networkCidr} on ${config.networking.tunDeviceId}, mtu ${config.networking.mtu}`,
    `ipv6 address:     ${config.networking.ipv6 ? `${config.networking.ipv6.nodeAddressCidr} in mesh ${config.networking.ipv6.networkCidr} (tunmesh peers only)` : 'none (IPv4 only)'}`,
    `bootstrap groups: ${groups.length === 0 ? 'none' : groups.join(', ')}`,
    `process:          uid ${config.process.uid}, gid ${config.process.gid}, ${config.process.workers} workers`,
    `monitoring:       ${config.monitoring.method}; log level ${config.logging.level}`,
    `data plane:       fast path ${config.dataPlane.fastPath ? 'on' : 'off'}; legacy PKCS#1 interop ${config.clustering.auth.legacyPkcs1Interop ? 'on' : 'off'}`,
  ];
  return lines.map((l) => `  ${l}\n`).join('');
}
