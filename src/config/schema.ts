/**
 * The config schema: the original's YAML tree (`tun_mesh:`, config_version 1.1) key for key, plus
 * tunmesh's own optional extensions under a sibling top-level key `tunmesh:`. An original config
 * therefore loads unchanged, and the original never sees keys it does not know.
 *
 * Required keys default to `null` and their format rejects null. Free-keyed maps
 * (`bootstrap_groups`, `prometheus/base_labels`) use convict's Object format so convict treats them
 * as one value; their entries are checked by ./maps.ts.
 *
 * Environment overrides (they win over the file; booleans take `true`/`false`):
 *
 * | variable                       | key                                                    |
 * |--------------------------------|--------------------------------------------------------|
 * | TUNMESH_ADVERTISE_URL          | tun_mesh/clustering/control_api_advertise_url          |
 * | TUNMESH_AUTH_SECRET            | tun_mesh/clustering/auth/secret                        |
 * | TUNMESH_PUB_KEY_SIZE           | tun_mesh/clustering/auth/pub_key_size                  |
 * | TUNMESH_BOOTSTRAP_URLS         | tun_mesh/clustering/bootstrap_groups/default/bootstrap_node_urls (comma list; empty = none) |
 * | TUNMESH_LISTEN_PORT            | tun_mesh/control_api/listen_port                       |
 * | TUNMESH_MAX_BATCH_SIZE         | tun_mesh/control_api/max_batch_size                    |
 * | TUNMESH_SSL_CERT_FILE          | tun_mesh/control_api/ssl/cert_file_path                |
 * | TUNMESH_SSL_KEY_FILE           | tun_mesh/control_api/ssl/key_file_path                 |
 * | TUNMESH_SSL_CA_FILE            | tun_mesh/control_api/ssl/ca_file_path                  |
 * | TUNMESH_LOG_LEVEL              | tun_mesh/logging/level                                 |
 * | TUNMESH_MONITORING_METHOD      | tun_mesh/monitoring/method                             |
 * | TUNMESH_TUN_DEVICE             | tun_mesh/networking/tun_device_id                      |
 * | TUNMESH_NETWORK_CIDR           | tun_mesh/networking/ipv4/network_cidr                  |
 * | TUNMESH_NODE_ADDRESS_CIDR      | tun_mesh/networking/ipv4/node_address_cidr             |
 * | TUNMESH_ENABLE_BROADCAST       | tun_mesh/networking/ipv4/enable_broadcast              |
 * | TUNMESH_UID                    | tun_mesh/process/uid                                   |
 * | TUNMESH_LOG_FORMAT             | tunmesh/logging/format                                 |
 * | TUNMESH_GID                    | tunmesh/process/gid                                    |
 * | TUNMESH_WORKERS                | tunmesh/process/workers                                |
 * | TUNMESH_MTU                    | tunmesh/networking/mtu                                 |
 * | TUNMESH_ALLOCATE_ADDRESS       | tunmesh/networking/ipv4/allocate                       |
 * | TUNMESH_IPV6_NETWORK_CIDR      | tunmesh/networking/ipv6/network_cidr                   |
 * | TUNMESH_IPV6_NODE_ADDRESS_CIDR | tunmesh/networking/ipv6/node_address_cidr              |
 * | TUNMESH_LISTEN_ADDRESS         | tunmesh/control_api/listen_address                     |
 * | TUNMESH_FAST_PATH              | tunmesh/data_plane/fast_path                           |
 * | TUNMESH_QUEUE_LIMIT            | tunmesh/data_plane/queue_limit                         |
 * | TUNMESH_OFFLOAD                | tunmesh/data_plane/offload                             |
 * | TUNMESH_CHANNEL_PORT           | tunmesh/data_plane/channel_port                        |
 * | TUNMESH_CHANNEL_IDLE_TIMEOUT   | tunmesh/data_plane/channel_idle_timeout                |
 * | TUNMESH_LEGACY_PKCS1_INTEROP   | tunmesh/auth/legacy_pkcs1_interop                      |
 * | TUNMESH_ADDITIONAL_CLUSTER_SECRETS | tunmesh/auth/additional_cluster_secrets (comma list) |
 * | TUNMESH_FIRST_NODE             | tunmesh/health/first_node                              |
 * | TUNMESH_KEEPALIVE_RATE         | tunmesh/control_plane/keepalive_rate                   |
 * | TUNMESH_STATUS_SOCKET          | tunmesh/status_socket                                  |
 * | TUNMESH_TLS_CLIENT_AUTH        | tunmesh/tls/client_auth                                |
 * | TUNMESH_DENY_FILE              | tunmesh/security/deny_file                             |
 *
 * (The config file's own path comes from TUNMESH_CONFIG_PATH, read by the CLI, not by this schema.)
 */
import type convict from 'convict';

/** Env var that names the comma-separated bootstrap URLs of the `default` group (not a convict key: it lives inside a free-keyed map). */
export const BOOTSTRAP_URLS_ENV = 'TUNMESH_BOOTSTRAP_URLS';

/** A timing as written: seconds, "5m" or "10..20s"; resolved to seconds by the loader. */
export type RawTiming = number | string;

/** The document as convict holds it after validation (snake_case, as in the YAML). */
export interface RawDocument {
  tun_mesh: {
    config_version: number | string;
    clustering: {
      control_api_advertise_url: string;
      auth: { secret: string; pub_key_size: number };
      bootstrap_groups: Record<string, unknown>;
      reload_config_on_bootstrap: boolean;
    };
    control_api: {
      listen_port: number;
      max_batch_size: number;
      ssl: { cert_file_path: string; key_file_path: string; ca_file_path: string | null; verify_hostname: boolean };
    };
    logging: { level: string };
    monitoring: {
      method: string;
      enable_node_packet_metrics: boolean;
      metric_ttl: RawTiming;
      prometheus: { base_labels: Record<string, unknown> };
    };
    networking: {
      tun_device_id: string;
      ipv4: { network_cidr: string; node_address_cidr: string | null; enable_broadcast: boolean };
    };
    process: {
      uid: number;
      ipc: { group: { max_init_attempts: number; key_range_min: number; key_range_max: number } };
      timing: {
        request_timeout: RawTiming;
        auth: { session_max_age: RawTiming; early_validity_window: RawTiming; validity_window: RawTiming };
        registrations: {
          groom_interval: RawTiming;
          startup_grace: RawTiming;
          bootstrap_retry_interval: RawTiming;
          local: { reregistration_interval: RawTiming; stale_threshold: RawTiming };
          mesh: { reregistration_interval: RawTiming; stale_threshold: RawTiming };
        };
        network: { local: { packet_expiration: RawTiming }; mesh: { packet_expiration: RawTiming } };
        tun_handler: { heartbeat_interval: RawTiming; fault_delay: RawTiming };
      };
    };
  };
  tunmesh: {
    logging: { format: string };
    process: { gid: number | null; workers: number };
    networking: { mtu: number; ipv4: { allocate: boolean }; ipv6: { network_cidr: string | null; node_address_cidr: string | null; allocate: boolean } };
    control_api: { listen_address: string };
    data_plane: { fast_path: boolean; queue_limit: number; offload: 'auto' | 'on' | 'off'; channel_port: number; channel_idle_timeout: number | string };
    auth: { legacy_pkcs1_interop: boolean; session_overlap: RawTiming; max_clock_skew: RawTiming; additional_cluster_secrets: string[] };
    health: { first_node: boolean };
    control_plane: { keepalive_rate: number };
    status_socket: string;
    tls: { client_auth: string };
    security: { deny_file: string };
    firewall: { inbound: unknown; outbound: unknown; conntrack: { tcp_timeout: RawTiming; udp_timeout: RawTiming } };
  };
}

/** Lowest and highest SysV IPC key the original may use; its defaults. */
const IPC_KEY_MAX = 0xffffffff;

/**
 * Registration exchanges per second a node takes part in, by default. 1, not 3: an idle node's
 * control-plane CPU is mostly these exchanges (a few ms each on a cold CPU): at 32 nodes on 2
 * shared cores 1 halved idle CPU (1.1-1.6 % against 2.2-2.6 % per node) and converged as fast or
 * faster (18.4-29.2 s against 24.0-29.6 s, fewer failed requests); killed nodes, groomed after
 * refused and failed requests, went ~10-15 s later (bench/README.md, "Scale", 2026-12-07 fourth).
 */
export const DEFAULT_KEEPALIVE_RATE = 1;

function timing(doc: string, def: RawTiming, bounds: { min?: number; max?: number } = {}): convict.SchemaObj<RawTiming> {
  return { doc, format: 'timing', default: def, ...bounds };
}

function int(doc: string, def: number | null, min: number, max: number, env?: string): convict.SchemaObj<number> {
  return ranged('int_range', doc, def, min, max, env);
}

/** A number within min..max that may be a fraction. */
function num(doc: string, def: number, min: number, max: number, env?: string): convict.SchemaObj<number> {
  return ranged('number_range', doc, def, min, max, env);
}

function ranged(format: 'int_range' | 'number_range', doc: string, def: number | null, min: number, max: number, env?: string): convict.SchemaObj<number> {
  return { doc, format, default: def, min, max, ...(env === undefined ? {} : { env }) };
}

function bool(doc: string, def: boolean, env?: string): convict.SchemaObj<boolean> {
  return { doc, format: Boolean, default: def, ...(env === undefined ? {} : { env }) };
}

function registrationGroup(reregistration: number, stale: number): convict.Schema<RawDocument['tun_mesh']['process']['timing']['registrations']['local']> {
  return {
    reregistration_interval: timing('Re-register to such a peer when its last registration is older than this', reregistration),
    stale_threshold: timing('Forget such a peer when no registration arrived within this', stale),
  };
}

function configVersion(value: unknown): void {
  if (value === null) throw new Error('is required (must be exactly 1.1)');
  if (value !== 1.1 && value !== '1.1') throw new Error('must be exactly 1.1 (the config format this version reads)');
}

/** The convict schema. Sections are plain objects; leaves have a `default`. */
export const schema: convict.Schema<RawDocument> = {
  tun_mesh: {
    // Checked, not kept: 1.1 is the only format there is, so nothing reads it after loading.
    config_version: { doc: 'Config format version; must be exactly 1.1', format: configVersion, default: null },
    clustering: {
      control_api_advertise_url: {
        doc: "This node's control API URL as other nodes reach it; unique per node",
        format: 'url', default: null, env: 'TUNMESH_ADVERTISE_URL',
      },
      auth: {
        secret: {
          doc: "The cluster's shared secret (signs cluster tokens)", format: 'nonempty_string', minLength: 32,
          default: null, sensitive: true, env: 'TUNMESH_AUTH_SECRET',
        },
        pub_key_size: int('RSA key bits for the session key exchange', 2048, 2048, 16384, 'TUNMESH_PUB_KEY_SIZE'),
      },
      bootstrap_groups: {
        doc: 'Map of group name -> {bootstrap_node_urls, bootstrap_retries}; entries checked by maps.ts',
        format: Object, default: {},
      },
      reload_config_on_bootstrap: bool('Re-read the config file before each bootstrap attempt', false),
    },
    control_api: {
      listen_port: int('HTTPS port of the control API', 4567, 1, 65535, 'TUNMESH_LISTEN_PORT'),
      max_batch_size: int('Packets per batch POST', 64, 1, 1024, 'TUNMESH_MAX_BATCH_SIZE'),
      ssl: {
        cert_file_path: { doc: 'PEM certificate of this node', format: 'nonempty_string', default: null, env: 'TUNMESH_SSL_CERT_FILE' },
        key_file_path: { doc: 'PEM private key of this node', format: 'nonempty_string', default: null, env: 'TUNMESH_SSL_KEY_FILE' },
        ca_file_path: {
          doc: 'CA bundle for verifying peers; when null the cert file is the CA', format: 'optional_path',
          default: null, nullable: true, env: 'TUNMESH_SSL_CA_FILE',
        },
        verify_hostname: bool("Check the peer certificate's hostname (off: advertise URLs are dynamic)", false),
      },
    },
    logging: {
      level: { doc: 'Log level', format: ['error', 'warn', 'info', 'debug'], default: 'info', env: 'TUNMESH_LOG_LEVEL' },
    },
    monitoring: {
      method: { doc: 'none, or prometheus (serves /metrics)', format: ['none', 'prometheus'], default: 'none', env: 'TUNMESH_MONITORING_METHOD' },
      enable_node_packet_metrics: bool('Per-peer packet counters and latency histogram', false),
      // The original expires per-peer series after this; tunmesh removes a peer's series when the
      // peer leaves the registry, so none outlive their peer. Accepted, unused.
      metric_ttl: timing("The original's series lifetime without updates; accepted, unused (tunmesh drops a peer's series when it leaves)", 3600),
      prometheus: {
        base_labels: { doc: 'Extra labels on every metric (name -> value)', format: Object, default: {} },
      },
    },
    networking: {
      tun_device_id: {
        doc: 'TUN device name', format: 'nonempty_string', default: 'tun1', env: 'TUNMESH_TUN_DEVICE',
      },
      ipv4: {
        network_cidr: { doc: 'The whole mesh range, routed into the tunnel', format: 'cidr', default: null, env: 'TUNMESH_NETWORK_CIDR' },
        node_address_cidr: {
          doc: "This node's address; its prefix is the node's broadcast domain (required unless tunmesh/networking/ipv4/allocate)", format: 'cidr', default: null,
          nullable: true, env: 'TUNMESH_NODE_ADDRESS_CIDR',
        },
        enable_broadcast: bool('Carry broadcast packets', false, 'TUNMESH_ENABLE_BROADCAST'),
      },
    },
    process: {
      uid: int('Non-root uid to drop to', null, 1, 0xfffffffe, 'TUNMESH_UID'),
      // The original's SysV message queues between its processes; tunmesh's workers talk over
      // the fork's IPC channel. Validated as the original does, then unused.
      ipc: {
        group: {
          max_init_attempts: int("The original's attempts to create its SysV IPC queues; accepted, unused", 3, 1, 1000),
          key_range_min: int("The original's lowest SysV IPC key; accepted, unused", 0x80000000, 1, IPC_KEY_MAX),
          key_range_max: int("The original's highest SysV IPC key; accepted, unused", 0x8ffffff0, 1, IPC_KEY_MAX),
        },
      },
      timing: {
        request_timeout: timing('Connect/read timeout for node-to-node requests', 1.0),
        auth: {
          session_max_age: timing('Session secret lifetime (rotation period)', 3600),
          early_validity_window: timing('Token nbf = iat - this', 5.0),
          validity_window: timing('Token exp = iat + this', 30.0),
        },
        registrations: {
          groom_interval: timing('Period of the grooming loop', 5.0),
          startup_grace: timing('Seconds /health passes with no registrations', 0, { min: 0 }),
          bootstrap_retry_interval: timing('Spacing of bootstrap attempts', 15),
          local: registrationGroup(5.0, 30.0),
          mesh: registrationGroup(30.0, 120.0),
        },
        network: {
          local: { packet_expiration: timing('Drop packets to local peers older than this', 0.1, { min: 0.01 }) },
          mesh: { packet_expiration: timing('Drop packets to mesh peers older than this', 0.1, { min: 0.01 }) },
        },
        // The original's TUN process: its heartbeat period and pause after a fault. tunmesh's
        // workers are watched as processes (the supervisor restarts one that dies, /health reads
        // the device itself), so neither applies. Accepted, unused.
        tun_handler: {
          heartbeat_interval: timing("The original's TUN handler heartbeat period; accepted, unused", 1.0),
          fault_delay: timing("The original's pause after a TUN fault; accepted, unused", 1.0),
        },
      },
    },
  },
  tunmesh: {
    logging: {
      format: { doc: 'auto (text on a TTY, else JSON), json or text', format: ['auto', 'json', 'text'], default: 'auto', env: 'TUNMESH_LOG_FORMAT' },
    },
    process: {
      gid: { doc: 'gid to drop to; null = the uid', format: 'int_range', min: 1, max: 0xfffffffe, default: null, nullable: true, env: 'TUNMESH_GID' },
      workers: int('Data-plane worker processes; 0 = sized to the container: CPUs of the cgroup quota and affinity mask, rounded up, 1..4', 0, 0, 256, 'TUNMESH_WORKERS'),
    },
    networking: {
      mtu: int('TUN device MTU (at least 1280 with IPv6)', 1500, 576, 9000, 'TUNMESH_MTU'),
      ipv4: {
        allocate: bool(
          "Pick this node's address from tun_mesh/networking/ipv4/network_cidr (leave node_address_cidr out): one config for every pod; a conflict moves one node",
          false, 'TUNMESH_ALLOCATE_ADDRESS'),
      },
      // IPv6 lives here, not in tun_mesh/networking: the original refuses unknown keys there.
      ipv6: {
        network_cidr: {
          doc: 'The whole IPv6 mesh range, routed into the tunnel; null = IPv4 only', format: 'ipv6_cidr',
          default: null, nullable: true, env: 'TUNMESH_IPV6_NETWORK_CIDR',
        },
        node_address_cidr: {
          doc: "This node's IPv6 address with prefix, announced to tunmesh peers only (signed claim); null = IPv4 only",
          format: 'ipv6_cidr', default: null, nullable: true, env: 'TUNMESH_IPV6_NODE_ADDRESS_CIDR',
        },
        allocate: bool(
          "Derive this node's IPv6 address (leave node_address_cidr out): network_cidr's prefix with the node's IPv4 address as the last 32 bits (a /96 or shorter network); unique wherever the IPv4 address is, so one config serves every pod",
          false, 'TUNMESH_ALLOCATE_ADDRESS6'),
      },
    },
    control_api: {
      listen_address: {
        doc: 'Address the API listens on; empty = every address, IPv6 and IPv4 (dual-stack `::`)', format: 'listen_address',
        default: '', env: 'TUNMESH_LISTEN_ADDRESS',
      },
    },
    data_plane: {
      fast_path: bool('Offer/accept the fast path; false forces the original JSON path', true, 'TUNMESH_FAST_PATH'),
      queue_limit: int('Packets per peer transmit queue', 1024, 1, 1048576, 'TUNMESH_QUEUE_LIMIT'),
      offload: {
        doc: 'TUN offloads (TSO/USO super-packets through the fast path): auto (when the kernel takes them), on (required), off',
        format: ['auto', 'on', 'off'],
        default: 'auto',
        env: 'TUNMESH_OFFLOAD',
      },
      channel_port: int(
        'Port where the workers receive fast channels from tunmesh peers (announced in the signed claim; same address and TLS as the API); 0 = channels go to the API port, received by the main process',
        4568, 0, 65535, 'TUNMESH_CHANNEL_PORT',
      ),
      channel_idle_timeout: {
        ...timing(
          'A fast channel is opened at the first packet toward a peer and closed after this long without one (0 = kept open once opened); sockets and memory then grow with the peers a node talks to, not with the mesh',
          120, { min: 0 },
        ),
        env: 'TUNMESH_CHANNEL_IDLE_TIMEOUT',
      },
    },
    auth: {
      legacy_pkcs1_interop: bool('Allow PKCS#1 v1.5 key wrap with original nodes', false, 'TUNMESH_LEGACY_PKCS1_INTEROP'),
      session_overlap: timing('How long the previous session secret stays valid after rotation', 30, { min: 0 }),
      max_clock_skew: timing('Tolerated clock difference between nodes when checking tokens', 5, { min: 0, max: 300 }),
      additional_cluster_secrets: {
        doc: 'Cluster secrets also accepted when checking cluster tokens, never used to sign (rotating the secret without a partition)',
        format: 'secret_list', minLength: 32, default: [], sensitive: true, env: 'TUNMESH_ADDITIONAL_CLUSTER_SECRETS',
      },
    },
    health: {
      first_node: bool('Report ready at once, without registrations (the first node of a cluster)', false, 'TUNMESH_FIRST_NODE'),
    },
    control_plane: {
      keepalive_rate: num(
        'Between tunmesh nodes, registration exchanges per second a node takes part in at most (fractions allowed, e.g. 0.5): in a mesh larger than rate x reregistration_interval, the interval and the stale threshold toward tunmesh peers grow with it (original peers keep the configured ones); 0 = the configured interval at any size',
        DEFAULT_KEEPALIVE_RATE, 0, 1000, 'TUNMESH_KEEPALIVE_RATE',
      ),
    },
    status_socket: {
      doc: 'Path of the local status socket; empty disables it', format: 'path_or_empty',
      default: '/run/tunmesh/status.sock', env: 'TUNMESH_STATUS_SOCKET',
    },
    tls: {
      client_auth: {
        doc: 'Mutual TLS on /tunmesh/ routes and the fast-path upgrade: off (as the original), request (check a certificate when one is sent) or require (refuse without one); /health, /metrics and node_info stay open',
        format: ['off', 'request', 'require'], default: 'off', env: 'TUNMESH_TLS_CLIENT_AUTH',
      },
    },
    security: {
      deny_file: {
        doc: 'YAML file of denied node_ids and cert_fingerprints (SHA-256 hex); watched and re-read on change and on SIGHUP; empty: none',
        format: 'path_or_empty', default: '', env: 'TUNMESH_DENY_FILE',
      },
    },
    // Rules are checked entry by entry in config/firewall.ts (convict only knows "a list").
    firewall: {
      inbound: {
        doc: 'Rules for packets from peers into this node, first match wins, no match drops: [{proto, port, action, host|group|groups|node|cidr}]; left out: allow all (the original)',
        format: 'rule_list', default: null, nullable: true,
      },
      outbound: {
        doc: 'Rules for packets from this node to peers (same shape); left out: allow all',
        format: 'rule_list', default: null, nullable: true,
      },
      conntrack: {
        tcp_timeout: timing('An idle allowed TCP flow stays tracked (its replies pass) this long', 720, { min: 10, max: 432000 }),
        udp_timeout: timing('An idle allowed UDP flow stays tracked this long', 180, { min: 10, max: 432000 }),
      },
    },
  },
};

/** True for a schema node that is a leaf entry (has a default), false for a section. */
export function isLeaf(node: unknown): node is convict.SchemaObj {
  return typeof node === 'object' && node !== null && 'default' in node;
}

/** True for a leaf whose value is a free-keyed map (convict's Object format). */
export function isMapLeaf(node: convict.SchemaObj): boolean {
  return node.format === Object;
}
