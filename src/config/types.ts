/**
 * TunmeshConfig: the one typed view of a loaded config that the rest of tunmesh uses.
 *
 * Keys mirror the YAML tree in camelCase. Timings are plain numbers of seconds (ranges already
 * drawn). tunmesh's own extensions (the YAML's `tunmesh:` block) are folded into the section they
 * concern and marked "extension" so a reader knows the original has no such setting.
 *
 * Settings of the original that mean nothing to tunmesh are validated and accepted in the YAML
 * (an original config must load unchanged) but left out of this type, so that no code can seem
 * to honour them (schema.ts says why each is unused): config_version (always 1.1),
 * monitoring/metric_ttl, process/ipc and process/timing/tun_handler.
 */
import type { ClientAuthMode } from '../security/client-cert.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'auto' | 'json' | 'text';
export type MonitoringMethod = 'none' | 'prometheus';
/** `tunmesh.tls.client_auth`: the type is owned by security/, which implements it. */
export type { ClientAuthMode };

export interface BootstrapGroup {
  /** URLs to register to; empty for a first node. */
  readonly bootstrapNodeUrls: readonly string[];
  /** -1 retries forever, 0 makes one attempt, N retries N times. */
  readonly bootstrapRetries: number;
}

export interface RegistrationTiming {
  readonly reregistrationInterval: number;
  readonly staleThreshold: number;
}

export interface TunmeshConfig {
  /** Where the config came from: a file path, or "(object)" for configFromObject. */
  readonly source: string;
  readonly clustering: {
    readonly controlApiAdvertiseUrl: string;
    readonly auth: {
      readonly secret: string;
      readonly pubKeySize: number;
      /** extension: allow PKCS#1 v1.5 key wrap toward original nodes. */
      readonly legacyPkcs1Interop: boolean;
      /** extension: secrets also accepted on cluster tokens, never used to sign (secret rotation). */
      readonly additionalClusterSecrets: readonly string[];
      /** extension: seconds the previous session secret stays valid after rotation. */
      readonly sessionOverlap: number;
      /** extension: seconds of clock difference tolerated when checking tokens. */
      readonly maxClockSkew: number;
    };
    readonly bootstrapGroups: Readonly<Record<string, BootstrapGroup>>;
    readonly reloadConfigOnBootstrap: boolean;
  };
  readonly controlApi: {
    readonly listenPort: number;
    /** extension: address to listen on; empty = every address (dual-stack). */
    readonly listenAddress: string;
    readonly maxBatchSize: number;
    readonly ssl: {
      readonly certFilePath: string;
      readonly keyFilePath: string;
      /** null: the cert file is the CA for verifying peers. */
      readonly caFilePath: string | null;
      readonly verifyHostname: boolean;
    };
  };
  readonly logging: {
    readonly level: LogLevel;
    /** extension: auto = text on a TTY, JSON otherwise. */
    readonly format: LogFormat;
  };
  readonly monitoring: {
    readonly method: MonitoringMethod;
    readonly enableNodePacketMetrics: boolean;
    readonly prometheus: { readonly baseLabels: Readonly<Record<string, string>> };
  };
  readonly networking: {
    readonly tunDeviceId: string;
    /** extension: MTU of the TUN device (the original uses the device default, 1500). */
    readonly mtu: number;
    readonly ipv4: {
      readonly networkCidr: string;
      /** As configured, or with allocate the node's first choice (config/allocate.ts). */
      readonly nodeAddressCidr: string;
      readonly enableBroadcast: boolean;
      /** extension: tunmesh/networking/ipv4/allocate: the seed of the node's address choices; null when off. */
      readonly allocationSeed: string | null;
    };
    /** extension: the IPv6 overlay (tunmesh peers only); null when not configured. */
    readonly ipv6: {
      readonly networkCidr: string;
      readonly nodeAddressCidr: string;
      /** tunmesh/networking/ipv6/allocate: the address is derived from the IPv4 one (config/allocate.ts). */
      readonly derived: boolean;
    } | null;
  };
  readonly process: {
    readonly uid: number;
    /** extension: gid to drop to (defaults to the uid). */
    readonly gid: number;
    /** extension: data-plane worker processes, already resolved (0 in the file: sized to the container). */
    readonly workers: number;
    /** Where `workers` came from, for the start-up log (the config, or the CPU quota and affinity). */
    readonly workersReason: string;
    readonly timing: {
      readonly requestTimeout: number;
      readonly auth: { readonly sessionMaxAge: number; readonly earlyValidityWindow: number; readonly validityWindow: number };
      readonly registrations: {
        readonly groomInterval: number;
        readonly startupGrace: number;
        readonly bootstrapRetryInterval: number;
        readonly local: RegistrationTiming;
        readonly mesh: RegistrationTiming;
      };
      readonly network: { readonly local: { readonly packetExpiration: number }; readonly mesh: { readonly packetExpiration: number } };
    };
  };
  /** extension: data-plane tuning. */
  readonly dataPlane: {
    /** Offer/accept the fast path; false forces the original JSON path. */
    readonly fastPath: boolean;
    /** Packets per peer transmit queue. */
    readonly queueLimit: number;
    /** TUN offloads: auto (when the kernel takes them), on (required), off. */
    readonly offload: 'auto' | 'on' | 'off';
    /** Port where the workers receive fast channels; 0: on the API port, in the main process. */
    readonly channelPort: number;
    /** Seconds without a packet after which a fast channel closes (0: never); channels open on demand. */
    readonly channelIdleTimeout: number;
  };
  /** extension: health reporting. */
  readonly health: {
    /** Ready at once without any registration (the first node of a cluster). */
    readonly firstNode: boolean;
  };
  /** extension: control-plane sizing. */
  readonly controlPlane: {
    /** Registration exchanges per second with tunmesh peers at most (0: the configured interval at any size). */
    readonly keepaliveRate: number;
  };
  /** extension: path of the local status socket; null when disabled. */
  readonly statusSocket: string | null;
  /** extension: node identity beyond the cluster secret (mutual TLS, deny list). */
  readonly security: {
    /** Client certificates on /tunmesh/ routes and the fast-path upgrade. */
    readonly clientAuth: ClientAuthMode;
    /** Denied node ids and certificate fingerprints, watched; null: none. */
    readonly denyFile: string | null;
  };
  /** extension: access control between nodes (config/firewall.ts); null: allow all, as the original. */
  readonly firewall: FirewallConfig | null;
}

export type FirewallProto = 'any' | 'tcp' | 'udp' | 'icmp' | 'icmpv6';

/** A port or an inclusive range; null in a rule: any port. */
export interface FirewallPorts {
  readonly from: number;
  readonly to: number;
}

/** Whom a rule is about: the sender of an inbound packet, the receiver of an outbound one. */
export type FirewallSelector =
  | { readonly kind: 'any' }
  /** A peer whose verified certificate carries every one of these groups. */
  | { readonly kind: 'groups'; readonly groups: readonly string[] }
  | { readonly kind: 'node'; readonly id: string }
  /** Mesh addresses: the only selector an original node (no groups) can match. */
  | { readonly kind: 'cidr'; readonly cidr: string; readonly family: 4 | 6 };

export interface FirewallRule {
  /** Where it was written, e.g. tunmesh/firewall/inbound/2: its name in logs and metrics. */
  readonly path: string;
  readonly proto: FirewallProto;
  readonly ports: FirewallPorts | null;
  readonly action: 'allow' | 'drop';
  readonly selector: FirewallSelector;
}

export interface FirewallConfig {
  /** null: this direction allows everything; []: nothing. */
  readonly inbound: readonly FirewallRule[] | null;
  readonly outbound: readonly FirewallRule[] | null;
  /** Seconds an idle allowed flow stays tracked (its replies pass). */
  readonly conntrack: { readonly tcpTimeout: number; readonly udpTimeout: number };
}
