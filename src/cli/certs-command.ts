/**
 * `tunmesh certs ...`: a small CA for a mesh, without openssl.
 *
 *   tunmesh certs ca create --out DIR [--name CN] [--key ALG] [--days N] [--force]
 *   tunmesh certs node issue (--ca-dir DIR | --ca-cert FILE --ca-key FILE) --name NAME
 *                            [--ip ADDR]... [--dns NAME]... [--group NAME]... [--key ALG] [--days N] --out DIR [--force]
 *   tunmesh certs show FILE [--json]
 *
 * Exit codes as for `tunmesh config`: 0 ok, 2 usage error or refused parameters, 1 unexpected.
 */
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CertsError } from '../certs/errors.js';
import { KEY_ALGORITHMS, VALIDITY, parseCommonName, parseDays, parseKeyAlgorithm, parseNodeName, parseSubjectAltNames } from '../certs/params.js';
import { readInput, writeOutputs } from '../certs/pem-files.js';
import { describePem, parsePemCertificates, summarize } from '../certs/show.js';
import { errorMessage } from '../log/error-message.js';
import { EXIT_INVALID, EXIT_OK, EXIT_UNEXPECTED, type CommandIo } from './config-command.js';

const CA_CERT_FILE = 'ca.pem';
const CA_KEY_FILE = 'ca-key.pem';

const USAGE = `usage: tunmesh certs ca create --out DIR [--name CN] [--key ALG] [--days N] [--force]
         writes DIR/${CA_CERT_FILE} and DIR/${CA_KEY_FILE} (0600); default ${VALIDITY.ca.default} days, at most ${VALIDITY.ca.max}
       tunmesh certs node issue (--ca-dir DIR | --ca-cert FILE --ca-key FILE) --name NAME
                                [--ip ADDR]... [--dns NAME]... [--group NAME]... [--key ALG] [--days N] --out DIR [--force]
         writes DIR/NAME.pem and DIR/NAME-key.pem (0600); default ${VALIDITY.node.default} days, at most ${VALIDITY.node.max};
         --group puts the node in a firewall group (a URI SAN urn:tunmesh:group:NAME; repeatable)
       tunmesh certs show FILE [--json]
         subject, issuer, SANs, SHA-256 fingerprint and expiry of each certificate in FILE
  ALG: ${KEY_ALGORITHMS.join(' | ')} (default ${KEY_ALGORITHMS[0]})
`;

class UsageError extends Error {}

export async function runCertsCommand(args: string[], io: CommandIo): Promise<number> {
  try {
    return await dispatch(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`tunmesh certs: ${err.message}\n${USAGE}`);
      return EXIT_INVALID;
    }
    if (err instanceof CertsError) {
      io.stderr(`tunmesh certs: ${err.message}\n`);
      return EXIT_INVALID;
    }
    io.stderr(`tunmesh certs: unexpected error: ${errorMessage(err)}\n`);
    return EXIT_UNEXPECTED;
  }
}

async function dispatch(args: string[], io: CommandIo): Promise<number> {
  const [first, second, ...rest] = args;
  if (first === 'ca' && second === 'create') return caCreate(rest, io);
  if (first === 'node' && second === 'issue') return nodeIssue(rest, io);
  if (first === 'show') return show(second === undefined ? [] : [second, ...rest], io);
  if (first === undefined) throw new UsageError('missing subcommand');
  if (['-h', '--help', 'help'].includes(first)) {
    io.stdout(USAGE);
    return EXIT_OK;
  }
  throw new UsageError(`unknown subcommand "${[first, second].filter((w) => w !== undefined).join(' ')}"`);
}

/** node's parseArgs (strict by default), with its errors turned into usage errors (one line, no stack). */
function parse<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
}

function required(value: string | undefined, option: string): string {
  if (value === undefined || value === '') throw new UsageError(`${option} is required`);
  return value;
}

async function caCreate(args: string[], io: CommandIo): Promise<number> {
  const { values } = parse({
    args,
    options: {
      out: { type: 'string' },
      name: { type: 'string' },
      key: { type: 'string' },
      days: { type: 'string' },
      force: { type: 'boolean' },
    },
  });
  const out = required(values.out, '--out');
  const request = { commonName: parseCommonName(values.name, 'tunmesh CA'), algorithm: parseKeyAlgorithm(values.key), days: parseDays(values.days, 'ca') };
  const { createCa } = await import('../certs/ca.js');
  const ca = await createCa(request);
  const certPath = join(out, CA_CERT_FILE);
  const keyPath = join(out, CA_KEY_FILE);
  writeOutputs(out, [{ path: certPath, content: ca.certPem, secret: false }, { path: keyPath, content: ca.keyPem, secret: true }], values.force ?? false);
  io.stdout(`CA certificate: ${certPath}\nCA key:         ${keyPath} (0600; keep it offline, it can issue node certificates)\n`);
  io.stdout(describePem(ca.certPem, certPath));
  return EXIT_OK;
}

async function nodeIssue(args: string[], io: CommandIo): Promise<number> {
  const { values } = parse({
    args,
    options: {
      'ca-dir': { type: 'string' },
      'ca-cert': { type: 'string' },
      'ca-key': { type: 'string' },
      name: { type: 'string' },
      ip: { type: 'string', multiple: true },
      dns: { type: 'string', multiple: true },
      group: { type: 'string', multiple: true },
      key: { type: 'string' },
      days: { type: 'string' },
      out: { type: 'string' },
      force: { type: 'boolean' },
    },
  });
  const { certPath: caCertPath, keyPath: caKeyPath } = caPaths(values['ca-dir'], values['ca-cert'], values['ca-key']);
  const name = parseNodeName(values.name);
  const out = required(values.out, '--out');
  const request = { name, sans: parseSubjectAltNames(values.ip ?? [], values.dns ?? [], values.group ?? []), algorithm: parseKeyAlgorithm(values.key), days: parseDays(values.days, 'node') };
  const { loadCa, issueNodeCertificate } = await import('../certs/issue.js');
  const ca = await loadCa(readInput(caCertPath, 'CA certificate'), readInput(caKeyPath, 'CA key'), caCertPath, caKeyPath);
  const issued = await issueNodeCertificate(ca, request);
  const certPath = join(out, `${name}.pem`);
  const keyPath = join(out, `${name}-key.pem`);
  writeOutputs(out, [{ path: certPath, content: issued.certPem, secret: false }, { path: keyPath, content: issued.keyPem, secret: true }], values.force ?? false);
  io.stdout(`certificate: ${certPath}\nkey:         ${keyPath} (0600)\n`);
  io.stdout(describePem(issued.certPem, certPath));
  io.stdout(
    `in the node's config:\n  tun_mesh:\n    control_api:\n      ssl:\n        cert_file_path: ${certPath}\n        key_file_path: ${keyPath}\n        ca_file_path: ${caCertPath}\n`,
  );
  return EXIT_OK;
}

function caPaths(dir: string | undefined, cert: string | undefined, key: string | undefined): { certPath: string; keyPath: string } {
  if (dir !== undefined) {
    if (cert !== undefined || key !== undefined) throw new UsageError('give either --ca-dir or --ca-cert with --ca-key, not both');
    return { certPath: join(dir, CA_CERT_FILE), keyPath: join(dir, CA_KEY_FILE) };
  }
  if (cert === undefined || key === undefined) throw new UsageError('give --ca-dir DIR, or both --ca-cert FILE and --ca-key FILE');
  return { certPath: cert, keyPath: key };
}

function show(args: string[], io: CommandIo): number {
  const { values, positionals } = parse({ args, options: { json: { type: 'boolean' } }, allowPositionals: true });
  if (positionals.length !== 1) throw new UsageError('show takes exactly one FILE');
  const file = positionals[0] as string;
  const pem = readInput(file, 'certificate file');
  if (values.json) {
    const summaries = parsePemCertificates(pem, file).map((c) => summarize(c));
    io.stdout(`${JSON.stringify(summaries, null, 2)}\n`);
  } else {
    io.stdout(describePem(pem, file));
  }
  return EXIT_OK;
}
