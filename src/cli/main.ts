#!/usr/bin/env -S node --max-semi-space-size=1
// The `tunmesh` command. Exit codes: 0 ok, 2 usage or config error, 1 runtime failure.
// Users see one clear line per error, never a stack trace (those go to the debug log).
import { runConfigCommand } from './config-command.js';
import { runCommand } from './run-command.js';
import { statusCommand } from './status-command.js';
import { VERSION } from '../version.js';
import { errorMessage } from '../log/error-message.js';

export const USAGE = `tunmesh ${VERSION} - self-healing Layer-3 mesh VPN sidecar

Usage:
  tunmesh run [--config FILE]        start a node (as root; drops to process.uid after TUN setup)
                                     FILE defaults to $TUNMESH_CONFIG_PATH or /etc/tunmesh/config.yaml
  tunmesh config check FILE          validate a config file
  tunmesh config example             print a commented example config
  tunmesh status [--json] [--socket PATH]
                                     show a running node's peers, sessions and traffic
  tunmesh certs ca create|node issue|show ...
                                     make a mesh CA and node certificates, inspect PEM files
  tunmesh --help | --version
`;

/** `tunmesh run --help`, `tunmesh status --help`; config and certs print their own usage for `--help` after any subcommand. */
const COMMAND_USAGE: Readonly<Record<string, string>> = {
  run: `Usage: tunmesh run [--config FILE]

Start a node (as root; it drops to process.uid after the TUN setup). FILE defaults to
$TUNMESH_CONFIG_PATH or /etc/tunmesh/config.yaml; TUNMESH_* variables override its keys
(docs/operations.md, "Environment variables"). SIGTERM stops it gracefully, SIGHUP reloads TLS.
`,
  status: `Usage: tunmesh status [--json] [--socket PATH]

Show a running node's peers, sessions and traffic, read from its status socket (PATH defaults to
$TUNMESH_STATUS_SOCKET or /run/tunmesh/status.sock). --json prints the report as JSON.
`,
};

const wantsHelp = (args: string[]): boolean => args.some((a) => a === '--help' || a === '-h');

// A closed pipe (`tunmesh certs show F | head`) ends the output, not the command with a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
});

const io = { stdout: (s: string) => process.stdout.write(s), stderr: (s: string) => process.stderr.write(s) };

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      io.stdout(USAGE);
      return command === undefined ? 2 : 0;
    case '--version':
    case '-v':
      io.stdout(`${VERSION}\n`);
      return 0;
    case 'run':
    case 'status':
      if (wantsHelp(rest)) {
        io.stdout(COMMAND_USAGE[command] ?? USAGE);
        return 0;
      }
      return command === 'run' ? runCommand(rest, io) : statusCommand(rest, io);
    case 'config':
      // `--help` anywhere (`tunmesh config check --help`) is a question, not a file name.
      return runConfigCommand(wantsHelp(rest) ? ['--help'] : rest, io);
    case 'certs':
      // Loaded on demand: the X.509 library is not needed (nor kept in memory) by `run`.
      return (await import('./certs-command.js')).runCertsCommand(wantsHelp(rest) ? ['--help'] : rest, io);
    default:
      io.stderr(`tunmesh: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // `run` keeps the process alive itself; other commands end here.
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    io.stderr(`tunmesh: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  },
);
