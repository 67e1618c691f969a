/**
 * Loading a config: file -> YAML -> structural pass -> convict (defaults, env, leaf formats) ->
 * free-keyed maps -> cross-field rules -> one typed TunmeshConfig.
 *
 * Every stage adds to one list of problems, and a single ConfigError reports them all. Problems below
 * a key that already has one are dropped (a broken section is reported once, not once per child).
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { defaultWorkerCount } from './worker-count.js';
import { isAbsolute } from 'node:path';
import convict from 'convict';
import YAML from 'yaml';
import { cidrWithin, tryParseIpv4Cidr } from '../tun/ipv4.js';
import { checkIpv6Rules } from './ipv6-rules.js';
import { addressChoice, allocationSeed, derivedIpv6, hostCount } from './allocate.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import { registerConfigFormats } from './formats.js';
import { baseLabels, bootstrapGroups } from './maps.js';
import { firewallRules, type FirewallRules } from './firewall.js';
import { BOOTSTRAP_URLS_ENV, isLeaf, schema, type RawDocument, type RawTiming } from './schema.js';
import { fitToSchema, isPlainObject, showValue, type PlainObject } from './shape.js';
import { parseTiming, resolveTiming } from './timing.js';
import type { BootstrapGroup, ClientAuthMode, FirewallConfig, LogFormat, LogLevel, MonitoringMethod, TunmeshConfig } from './types.js';

export interface LoadOptions {
  /** Source of randomness for timing ranges, in [0, 1); Math.random by default. */
  readonly random?: () => number;
  /** Check that the TLS files exist and are readable (default true). */
  readonly checkFiles?: boolean;
}

/** Source name used in messages for configs built in code. */
const OBJECT_SOURCE = '(object)';

/** Reads, parses and validates the config file at `path`. Throws ConfigError on any problem. */
export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): TunmeshConfig {
  return buildConfig(parseYaml(readConfigFile(path), path), path, env, options);
}

/** As loadConfig, for a file's text read elsewhere (the firewall keeper reads a root-only config on reload). */
export function loadConfigText(text: string, path: string, env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): TunmeshConfig {
  return buildConfig(parseYaml(text, path), path, env, options);
}

/**
 * Validates a config given as a plain object shaped like the YAML (`{tun_mesh: {...}, tunmesh: {...}}`).
 * For tests and the demo; the environment is empty unless given, so process env does not leak in.
 */
export function configFromObject(obj: unknown, env: NodeJS.ProcessEnv = {}, options: LoadOptions = {}): TunmeshConfig {
  return buildConfig(obj, OBJECT_SOURCE, env, options);
}

function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found'
      : code === 'EACCES' ? 'permission denied'
        : code === 'EISDIR' ? 'is a directory, expected a YAML file'
          : (err as Error).message;
    throw ConfigError.forFile(path, `cannot read the config file: ${reason}`);
  }
}

function parseYaml(text: string, path: string): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  const first = doc.errors[0];
  if (first !== undefined) throw ConfigError.forFile(path, `not valid YAML: ${(first.message.split('\n')[0] ?? '').replace(/:$/, '')}`);
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) {
    throw ConfigError.forFile(path, 'the file is empty; expected a YAML mapping with the top-level key tun_mesh (see `tunmesh config example`)');
  }
  return value;
}

function buildConfig(doc: unknown, source: string, env: NodeJS.ProcessEnv, options: LoadOptions): TunmeshConfig {
  if (!isPlainObject(doc)) {
    throw ConfigError.forFile(source, `expected a YAML mapping with the top-level key tun_mesh, got ${showValue(doc)}`);
  }
  const problems: ConfigProblem[] = [];
  if (!('tun_mesh' in doc)) problems.push({ path: 'tun_mesh', message: 'is required: the top-level key of a Tun Mesh config' });
  const fitted = fitToSchema(doc, schema as PlainObject, [], problems);
  const groupsPresent = applyBootstrapUrlsEnv(fitted, env);

  const raw = validateWithConvict(fitted, env, problems);
  const groups = bootstrapGroups(raw.tun_mesh.clustering.bootstrap_groups, groupsPresent, problems);
  const labels = baseLabels(raw.tun_mesh.monitoring.prometheus.base_labels, problems);
  const rules = firewallRules(raw.tunmesh.firewall, FIREWALL_PATH, problems);
  checkCrossFieldRules(raw, options.checkFiles ?? true, problems);

  const reported = dropShadowedProblems(problems);
  if (reported.length > 0) throw new ConfigError(source, reported);
  const random = options.random ?? Math.random;
  return { ...toTyped(raw, source, groups, labels, random), firewall: withConntrack(rules, raw.tunmesh.firewall.conntrack, random) };
}

const FIREWALL_PATH = ['tunmesh', 'firewall'];

function withConntrack(rules: FirewallRules | null, ct: RawDocument['tunmesh']['firewall']['conntrack'], random: () => number): FirewallConfig | null {
  if (rules === null) return null;
  const seconds = (value: RawTiming): number => resolveTiming(parseTiming(value), random);
  return { ...rules, conntrack: { tcpTimeout: seconds(ct.tcp_timeout), udpTimeout: seconds(ct.udp_timeout) } };
}

/**
 * TUNMESH_BOOTSTRAP_URLS sets the `default` group's URL list. It cannot be a convict env key because
 * bootstrap_groups is a free-keyed map, so it is applied to the document here. Returns whether the
 * (required) bootstrap_groups key is now present.
 */
function applyBootstrapUrlsEnv(fitted: PlainObject, env: NodeJS.ProcessEnv): boolean {
  const tunMesh = isPlainObject(fitted['tun_mesh']) ? fitted['tun_mesh'] : {};
  const clustering = isPlainObject(tunMesh['clustering']) ? tunMesh['clustering'] : {};
  const urls = env[BOOTSTRAP_URLS_ENV];
  if (urls === undefined) return 'bootstrap_groups' in clustering;
  const groups = isPlainObject(clustering['bootstrap_groups']) ? clustering['bootstrap_groups'] : {};
  const group = isPlainObject(groups['default']) ? groups['default'] : {};
  const list = urls.split(',').map((u) => u.trim()).filter((u) => u !== '');
  fitted['tun_mesh'] = { ...tunMesh, clustering: { ...clustering, bootstrap_groups: { ...groups, default: { ...group, bootstrap_node_urls: list } } } };
  return true;
}

function validateWithConvict(fitted: PlainObject, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): RawDocument {
  registerConfigFormats();
  const config = convict<RawDocument>(schema, { env, args: [] });
  config.load(fitted);
  try {
    config.validate({ allowed: 'strict' });
  } catch (err) {
    problems.push(...translateConvictErrors((err as Error).message, config));
  }
  return config.getProperties();
}

const UNDECLARED = /^configuration param '(.+)' not declared in the schema$/;
const MISSING = /^configuration param '(.+)' missing from config/;
const INVALID = /^([\w.]+): (.*)$/;

/** convict reports all problems as lines of one message; turn each into a ConfigProblem with a slash path. */
function translateConvictErrors(message: string, config: convict.Config<RawDocument>): ConfigProblem[] {
  return message.split('\n').filter((line) => line.trim() !== '').map((line): ConfigProblem => {
    const undeclared = UNDECLARED.exec(line);
    if (undeclared?.[1] !== undefined) return { path: dotsToSlashes(undeclared[1]), message: 'unknown key (not in the config schema)' };
    const missing = MISSING.exec(line);
    if (missing?.[1] !== undefined) return { path: dotsToSlashes(missing[1]), message: 'is required' };
    const invalid = INVALID.exec(line);
    if (invalid?.[1] === undefined || invalid[2] === undefined) return { path: '', message: line };
    const dotted = invalid[1];
    const value = valueAt(config, dotted);
    const text = stripConvictValue(invalid[2], value);
    return { path: dotsToSlashes(dotted), message: text + describeGot(dotted, value) };
  });
}

function valueAt(config: convict.Config<RawDocument>, dotted: string): unknown {
  try {
    return config.get(dotted as keyof RawDocument);
  } catch {
    return undefined;
  }
}

/** convict appends ": value was <json>" (unredacted formats only); we append the value ourselves. */
function stripConvictValue(text: string, value: unknown): string {
  const suffix = `: value was ${JSON.stringify(value)}`;
  return text.endsWith(suffix) ? text.slice(0, -suffix.length) : text;
}

function describeGot(dotted: string, value: unknown): string {
  if (value === null || value === undefined) return '';
  if (isSensitive(dotted)) return `, got <redacted${typeof value === 'string' ? `, ${value.length} characters` : ''}>`;
  return `, got ${showValue(value)}`;
}

function isSensitive(dotted: string): boolean {
  let node: unknown = schema;
  for (const key of dotted.split('.')) node = isPlainObject(node) && !isLeaf(node) ? node[key] : undefined;
  return isLeaf(node) && node.sensitive === true;
}

function dotsToSlashes(dotted: string): string {
  return dotted.split('.').join('/');
}

/** Keeps the first problem at a path and drops problems at or below a path already reported. */
function dropShadowedProblems(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const kept: ConfigProblem[] = [];
  for (const problem of problems) {
    const shadowed = kept.some((k) => k.path !== '' && (problem.path === k.path || problem.path.startsWith(`${k.path}/`)));
    if (!shadowed) kept.push(problem);
  }
  return kept;
}

const NODE_ADDRESS = 'tun_mesh/networking/ipv4/node_address_cidr';
const ALLOCATE = 'tunmesh/networking/ipv4/allocate';

/** node_address_cidr, or allocate from a network with room: one of the two, not both. */
function checkAllocation(raw: RawDocument, problems: ConfigProblem[]): void {
  const { network_cidr: network, node_address_cidr: node } = raw.tun_mesh.networking.ipv4;
  const allocate = raw.tunmesh.networking.ipv4.allocate;
  if (!allocate && node === null) problems.push({ path: NODE_ADDRESS, message: `is required (or let the node pick one: ${ALLOCATE}: true)` });
  if (allocate && node !== null) problems.push({ path: NODE_ADDRESS, message: `must be left out with ${ALLOCATE} (the node picks its address), got ${showValue(node)}` });
  if (allocate && typeof network === 'string' && tryParseIpv4Cidr(network) !== null && hostCount(network) < 2) {
    problems.push({ path: ALLOCATE, message: `needs a tun_mesh/networking/ipv4/network_cidr with room for two nodes or more, got ${network}` });
  }
}

function checkCrossFieldRules(raw: RawDocument, checkFiles: boolean, problems: ConfigProblem[]): void {
  const { ipv4 } = raw.tun_mesh.networking;
  checkAllocation(raw, problems);
  const network = typeof ipv4.network_cidr === 'string' ? tryParseIpv4Cidr(ipv4.network_cidr) : null;
  const node = typeof ipv4.node_address_cidr === 'string' ? tryParseIpv4Cidr(ipv4.node_address_cidr) : null;
  if (network !== null && node !== null && !cidrWithin(network, node)) {
    problems.push({
      path: 'tun_mesh/networking/ipv4/node_address_cidr',
      message: `must lie inside tun_mesh/networking/ipv4/network_cidr (${ipv4.network_cidr}), got ${showValue(ipv4.node_address_cidr)}`,
    });
  }
  checkIpv6Rules(raw, problems);
  const ipc = raw.tun_mesh.process.ipc.group;
  if (Number.isInteger(ipc.key_range_min) && Number.isInteger(ipc.key_range_max) && ipc.key_range_min >= ipc.key_range_max) {
    problems.push({ path: 'tun_mesh/process/ipc/group/key_range_min', message: `must be below key_range_max (${ipc.key_range_max}), got ${ipc.key_range_min}` });
  }
  const socket = raw.tunmesh.status_socket;
  if (typeof socket === 'string' && socket !== '' && !isAbsolute(socket)) {
    problems.push({ path: 'tunmesh/status_socket', message: `must be an absolute path or empty, got ${showValue(socket)}` });
  }
  const denyFile = raw.tunmesh.security.deny_file;
  if (typeof denyFile === 'string' && denyFile !== '' && !isAbsolute(denyFile)) {
    problems.push({ path: 'tunmesh/security/deny_file', message: `must be an absolute path or empty, got ${showValue(denyFile)}` });
  }
  const channelPort = raw.tunmesh.data_plane.channel_port;
  if (channelPort !== 0 && channelPort === raw.tun_mesh.control_api.listen_port) {
    problems.push({ path: 'tunmesh/data_plane/channel_port', message: `must differ from tun_mesh/control_api/listen_port (${channelPort}), or be 0 to receive fast channels on the API port` });
  }
  if (checkFiles) checkTlsFiles(raw, problems);
}

function checkTlsFiles(raw: RawDocument, problems: ConfigProblem[]): void {
  const { ssl } = raw.tun_mesh.control_api;
  const files: Array<[string, unknown]> = [['cert_file_path', ssl.cert_file_path], ['key_file_path', ssl.key_file_path], ['ca_file_path', ssl.ca_file_path]];
  for (const [key, path] of files) {
    if (typeof path !== 'string' || path === '') continue;
    const reason = unreadableReason(path);
    if (reason !== null) problems.push({ path: `tun_mesh/control_api/ssl/${key}`, message: `file ${path} ${reason}` });
  }
  const denyFile = raw.tunmesh.security.deny_file;
  const denyReason = typeof denyFile === 'string' && denyFile !== '' ? unreadableReason(denyFile) : null;
  if (denyReason !== null) problems.push({ path: 'tunmesh/security/deny_file', message: `file ${denyFile} ${denyReason}` });
}

function unreadableReason(path: string): string | null {
  try {
    if (!statSync(path).isFile()) return 'is not a regular file';
    accessSync(path, constants.R_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : `cannot be read: ${(err as Error).message}`;
  }
}

/** Builds the typed config from a document that passed every check. */
function toTyped(raw: RawDocument, source: string, groups: Record<string, BootstrapGroup>,
  labels: Record<string, string>, random: () => number): Omit<TunmeshConfig, 'firewall'> {
  const seconds = (value: RawTiming): number => resolveTiming(parseTiming(value), random);
  const t = raw.tun_mesh;
  const x = raw.tunmesh;
  const timing = t.process.timing;
  const v4 = ipv4Of(raw);
  return {
    source,
    clustering: {
      controlApiAdvertiseUrl: t.clustering.control_api_advertise_url,
      auth: {
        secret: t.clustering.auth.secret,
        pubKeySize: t.clustering.auth.pub_key_size,
        legacyPkcs1Interop: x.auth.legacy_pkcs1_interop,
        additionalClusterSecrets: [...x.auth.additional_cluster_secrets],
        sessionOverlap: seconds(x.auth.session_overlap),
        maxClockSkew: seconds(x.auth.max_clock_skew),
      },
      bootstrapGroups: groups,
      reloadConfigOnBootstrap: t.clustering.reload_config_on_bootstrap,
    },
    controlApi: {
      listenPort: t.control_api.listen_port,
      listenAddress: x.control_api.listen_address,
      maxBatchSize: t.control_api.max_batch_size,
      ssl: {
        certFilePath: t.control_api.ssl.cert_file_path,
        keyFilePath: t.control_api.ssl.key_file_path,
        caFilePath: t.control_api.ssl.ca_file_path,
        verifyHostname: t.control_api.ssl.verify_hostname,
      },
    },
    logging: { level: t.logging.level as LogLevel, format: x.logging.format as LogFormat },
    monitoring: {
      method: t.monitoring.method as MonitoringMethod,
      enableNodePacketMetrics: t.monitoring.enable_node_packet_metrics,
      prometheus: { baseLabels: labels },
    },
    networking: {
      tunDeviceId: t.networking.tun_device_id,
      mtu: x.networking.mtu,
      ipv4: v4,
      ipv6: ipv6Of(x.networking.ipv6, v4),
    },
    process: {
      uid: t.process.uid,
      gid: x.process.gid ?? t.process.uid,
      ...workers(x.process.workers),
      timing: {
        requestTimeout: seconds(timing.request_timeout),
        auth: {
          sessionMaxAge: seconds(timing.auth.session_max_age),
          earlyValidityWindow: seconds(timing.auth.early_validity_window),
          validityWindow: seconds(timing.auth.validity_window),
        },
        registrations: {
          groomInterval: seconds(timing.registrations.groom_interval),
          startupGrace: seconds(timing.registrations.startup_grace),
          bootstrapRetryInterval: seconds(timing.registrations.bootstrap_retry_interval),
          local: {
            reregistrationInterval: seconds(timing.registrations.local.reregistration_interval),
            staleThreshold: seconds(timing.registrations.local.stale_threshold),
          },
          mesh: {
            reregistrationInterval: seconds(timing.registrations.mesh.reregistration_interval),
            staleThreshold: seconds(timing.registrations.mesh.stale_threshold),
          },
        },
        network: {
          local: { packetExpiration: seconds(timing.network.local.packet_expiration) },
          mesh: { packetExpiration: seconds(timing.network.mesh.packet_expiration) },
        },
      },
    },
    dataPlane: { fastPath: x.data_plane.fast_path, queueLimit: x.data_plane.queue_limit, offload: x.data_plane.offload, channelPort: x.data_plane.channel_port, channelIdleTimeout: seconds(x.data_plane.channel_idle_timeout) },
    health: { firstNode: x.health.first_node },
    controlPlane: { keepaliveRate: x.control_plane.keepalive_rate },
    statusSocket: x.status_socket === '' ? null : x.status_socket,
    security: { clientAuth: x.tls.client_auth as ClientAuthMode, denyFile: x.security.deny_file === '' ? null : x.security.deny_file },
  };
}

/** The IPv4 overlay; with allocate, the address is the node's first choice from its seed. */
function ipv4Of(raw: RawDocument): TunmeshConfig['networking']['ipv4'] {
  const v4 = raw.tun_mesh.networking.ipv4;
  const seed = raw.tunmesh.networking.ipv4.allocate ? allocationSeed(raw.tun_mesh.clustering.control_api_advertise_url) : null;
  return {
    networkCidr: v4.network_cidr,
    nodeAddressCidr: seed === null ? (v4.node_address_cidr ?? '') : addressChoice(v4.network_cidr, seed),
    enableBroadcast: v4.enable_broadcast,
    allocationSeed: seed,
  };
}

/** Both keys set, or the network with allocate (checked by ipv6-rules.ts): the IPv6 overlay; else IPv4 only. */
function ipv6Of(v6: RawDocument['tunmesh']['networking']['ipv6'], ipv4: TunmeshConfig['networking']['ipv4']): TunmeshConfig['networking']['ipv6'] {
  if (v6.allocate && v6.network_cidr) return { networkCidr: v6.network_cidr, nodeAddressCidr: derivedIpv6(v6.network_cidr, ipv4.nodeAddressCidr), derived: true };
  if (!v6.node_address_cidr || !v6.network_cidr) return null;
  return { networkCidr: v6.network_cidr, nodeAddressCidr: v6.node_address_cidr, derived: false };
}

/** 0 in the file: as many as the container may use (worker-count.ts); else as configured. */
function workers(configured: number): { workers: number; workersReason: string } {
  if (configured > 0) return { workers: configured, workersReason: 'tunmesh.process.workers' };
  const auto = defaultWorkerCount();
  return { workers: auto.count, workersReason: auto.why };
}
