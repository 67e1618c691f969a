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
      return runCommand(rest, io);
    case 'config':
      return runConfigCommand(rest, io);
    case 'status':
      return statusCommand(rest, io);
    case 'certs':
      // Loaded on demand: the X.509 library is not needed (nor kept in memory) by `run`.
      return (await import('./certs-command.js')).runCertsCommand(rest, io);
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
