// The firewall in the running node: who the peers are for it (addresses from the registry,
// groups only from verified client certificates) and its reloads from the config file.
import { loadConfig, loadConfigText } from '../config/load.js';
import type { TunmeshConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { errorMessage } from '../log/error-message.js';
import type { Firewall } from '../firewall/firewall.js';
import type { FirewallPeer } from '../firewall/resolve.js';
import type { Registry } from '../mesh/registry.js';
import type { SecurityMetrics } from '../metrics/security.js';
import type { PeerCertBook } from '../security/peer-certs.js';

const hostOf = (cidr: string): string => cidr.split('/')[0] ?? cidr;

/** Groups count only with mutual TLS on: a certificate we did not verify says nothing. */
export function firewallPeers(config: TunmeshConfig, registry: Registry, certs: PeerCertBook): FirewallPeer[] {
  const verified = config.security.clientAuth !== 'off';
  return registry.all().map((n) => ({
    id: n.info.id,
    address4: hostOf(n.info.node_addresses.ipv4.cidr),
    address6: n.capabilities?.ipv6 ? hostOf(n.capabilities.ipv6) : null,
    groups: verified ? (certs.get(n.info.id)?.groups ?? null) : null,
  }));
}

/** SIGHUP or a change of the config file: the rules of tunmesh.firewall are re-read and swapped; nothing else in the file is applied. */
export interface FirewallReload {
  config: TunmeshConfig;
  /** The firewall in force; null: none runs (a reload then only hints at a restart). */
  firewall: Firewall | null;
  log: Logger;
  metrics: SecurityMetrics;
  /** What asked for the reload (SIGHUP, file change), for the log. */
  why: string;
}

export async function reloadFirewall(o: FirewallReload): Promise<void> {
  const { config, firewall, log, metrics, why } = o;
  if (firewall === null) return hintRestart(config, log, why);
  const component = 'firewall';
  let next: TunmeshConfig['firewall'];
  try {
    // Read by the keeper: the file is often root's alone, and we are not root any more.
    next = loadConfigText(await firewall.readConfig(), config.source, process.env, { checkFiles: false }).firewall;
  } catch (err) {
    metrics.reloaded('firewall', 'refused');
    return void log.warn('firewall rules not reloaded: the config file does not load; the rules in force stay', { component, why, error: errorMessage(err) });
  }
  try {
    metrics.reloaded('firewall', await firewall.reload(next));
  } catch (err) {
    metrics.reloaded('firewall', 'refused');
    log.error('firewall rules not reloaded; the rules in force stay', { component, why, error: errorMessage(err) });
  }
}

/**
 * No firewall at start: nothing stayed root to apply one. Rules added to the file since are named
 * in a warning; a file we can no longer read (root's alone) is no reload failure, there is none.
 */
function hintRestart(config: TunmeshConfig, log: Logger, why: string): void {
  let added: boolean;
  try {
    added = loadConfig(config.source, process.env, { checkFiles: false }).firewall !== null;
  } catch (err) {
    return void log.debug('config file not re-read for firewall rules', { component: 'firewall', why, error: errorMessage(err) });
  }
  if (added) log.warn('firewall rules were added to the config: they take effect at the next start (the node started without a firewall)', { component: 'firewall', why });
}
