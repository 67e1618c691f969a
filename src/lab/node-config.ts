// The YAML config of one lab node: the original's format plus a `tunmesh:` block. The `tun_mesh:`
// part is also what a real original node is given (src/lab/original.ts drops the `tunmesh:`
// block), so it must stay within what the original's loader accepts.
import { stringify } from 'yaml';

/** tun_mesh.process.uid of every lab node: both kinds drop to it after opening the TUN. */
export const LAB_PROCESS_UID = 65534;

export interface LabNodeSpec {
  index: number;
  underlayAddress: string;
  /** Its mesh address; null: tunmesh.networking.ipv4.allocate (the node picks one). */
  meshAddressCidr: string | null;
  networkCidr: string;
  bootstrapUrls: string[];
  port: number;
  certPath: string;
  keyPath: string;
  /** control_api.ssl.ca_file_path (omitted: the original's default, the node's own certificate). */
  caPath?: string;
  secret: string;
  statusSocket: string;
  device: string;
  workers: number;
  fastPath: boolean;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  /** Seconds; short in tests so grooming and rotation are observable. */
  timing: LabTiming;
  firstNode: boolean;
  enableBroadcast?: boolean;
  /** tunmesh.auth.legacy_pkcs1_interop: talk to original nodes. */
  legacyInterop?: boolean;
  /** tunmesh.auth.additional_cluster_secrets (rotation). */
  additionalClusterSecrets?: string[];
  /** tunmesh.networking.mtu (default 1500). */
  mtu?: number;
  /** tunmesh.data_plane.offload (default: the node's default, auto). */
  offload?: 'auto' | 'on' | 'off';
  /** tunmesh.data_plane.channel_port (default: the node's default, 4568; 0: channels on the API port). */
  channelPort?: number;
  /** tun_mesh.monitoring.prometheus.base_labels (omitted when unset). */
  baseLabels?: Record<string, string>;
  /** tunmesh.networking.ipv6: this node's IPv6 mesh address and the IPv6 mesh network. */
  /** nodeAddressCidr null: tunmesh.networking.ipv6.allocate (derived from the IPv4 address). */
  ipv6?: { nodeAddressCidr: string | null; networkCidr: string };
  /** tun_mesh.control_api.ssl.verify_hostname (default false). */
  verifyHostname?: boolean;
  /** tunmesh.control_api.listen_address (default: every address). */
  listenAddress?: string;
  /** Mutual-TLS labs: tunmesh.tls.client_auth, tunmesh.security.deny_file. */
  clientAuth?: 'off' | 'request' | 'require';
  denyFile?: string;
  /** tunmesh.firewall, as written in YAML (firewall tests). */
  firewall?: Record<string, unknown>;
}

export interface LabTiming {
  groomInterval: number;
  reregistration: number;
  stale: number;
  sessionMaxAge: number;
  validityWindow: number;
  earlyValidityWindow: number;
  bootstrapRetry: number;
  sessionOverlap: number;
}

export const QUICK_TIMING: LabTiming = {
  groomInterval: 0.5,
  reregistration: 1,
  stale: 4,
  sessionMaxAge: 3600,
  validityWindow: 30,
  earlyValidityWindow: 5,
  bootstrapRetry: 1,
  sessionOverlap: 30,
};

/** The advertise URL; an IPv6 literal goes in brackets (`https://[2001:2::a]:4567`). */
export function labNodeUrl(underlayAddress: string, port: number): string {
  return underlayAddress.includes(':') ? `https://[${underlayAddress}]:${port}` : `https://${underlayAddress}:${port}`;
}

export function labNodeConfigYaml(s: LabNodeSpec): string {
  const t = s.timing;
  const registration = { reregistration_interval: t.reregistration, stale_threshold: t.stale };
  return stringify({
    tun_mesh: {
      config_version: 1.1,
      clustering: {
        control_api_advertise_url: labNodeUrl(s.underlayAddress, s.port),
        auth: { secret: s.secret, pub_key_size: 2048 },
        bootstrap_groups: { default: { bootstrap_node_urls: s.bootstrapUrls, bootstrap_retries: -1 } },
      },
      control_api: {
        listen_port: s.port,
        ssl: {
          cert_file_path: s.certPath,
          key_file_path: s.keyPath,
          ...(s.caPath ? { ca_file_path: s.caPath } : {}),
          ...(s.verifyHostname ? { verify_hostname: true } : {}),
        },
      },
      logging: { level: s.logLevel },
      monitoring: {
        method: 'prometheus',
        enable_node_packet_metrics: true,
        // Always present: the original reads base_labels unguarded when method is prometheus
        // and its API process dies on a missing map (tunmesh's default is the same {}).
        prometheus: { base_labels: s.baseLabels ?? {} },
      },
      networking: {
        tun_device_id: s.device,
        ipv4: { network_cidr: s.networkCidr, ...(s.meshAddressCidr !== null ? { node_address_cidr: s.meshAddressCidr } : {}), enable_broadcast: s.enableBroadcast ?? false },
      },
      process: {
        uid: LAB_PROCESS_UID,
        timing: {
          auth: { session_max_age: t.sessionMaxAge, validity_window: t.validityWindow, early_validity_window: t.earlyValidityWindow },
          registrations: {
            groom_interval: t.groomInterval,
            bootstrap_retry_interval: t.bootstrapRetry,
            local: registration,
            mesh: registration,
          },
          network: { local: { packet_expiration: 1 }, mesh: { packet_expiration: 1 } },
        },
      },
    },
    tunmesh: {
      logging: { format: 'json' },
      process: { workers: s.workers },
      ...(s.mtu || s.ipv6 || s.meshAddressCidr === null ? {
        networking: {
          ...(s.mtu ? { mtu: s.mtu } : {}),
          ...(s.meshAddressCidr === null ? { ipv4: { allocate: true } } : {}),
          ...(s.ipv6 ? { ipv6: s.ipv6.nodeAddressCidr === null ? { network_cidr: s.ipv6.networkCidr, allocate: true } : { network_cidr: s.ipv6.networkCidr, node_address_cidr: s.ipv6.nodeAddressCidr } } : {}),
        },
      } : {}),
      data_plane: { fast_path: s.fastPath, ...(s.offload ? { offload: s.offload } : {}), ...(s.channelPort !== undefined ? { channel_port: s.channelPort } : {}) },
      auth: { session_overlap: t.sessionOverlap, legacy_pkcs1_interop: s.legacyInterop ?? false, additional_cluster_secrets: s.additionalClusterSecrets ?? [] },
      health: { first_node: s.firstNode },
      ...(s.listenAddress ? { control_api: { listen_address: s.listenAddress } } : {}),
      status_socket: s.statusSocket,
      ...(s.clientAuth ? { tls: { client_auth: s.clientAuth } } : {}),
      ...(s.denyFile ? { security: { deny_file: s.denyFile } } : {}),
      ...(s.firewall ? { firewall: s.firewall } : {}),
    },
    // No `&a1`/`*a1` for the shared local/mesh timing object: the original loads the file with
    // Ruby's YAML.safe_load, which refuses aliases.
  }, { aliasDuplicateObjects: false });
}
