/**
 * The example config printed by `tunmesh config example` and shipped as config/example.yaml.
 *
 * It is in the original's format (config_version 1.1), so it also works for an original node; the
 * tunmesh-only settings follow in a commented `tunmesh:` block that the original never reads.
 */

/** The example's placeholder secret; `tunmesh config check` warns when a config still uses it. */
export const EXAMPLE_SECRET = 'CHANGE-ME-use-a-random-string-of-32-or-more-characters';

const EXAMPLE = `# tunmesh / Tun Mesh configuration (config_version 1.1).
# The tun_mesh: block is read by tunmesh and by the original Tun Mesh alike.
# Timings: seconds (1.5), a unit suffix s/m/h/d ("5m"), or a range ("10..20s") drawn once at start.
# Keys marked "required" have no default. Unknown keys are errors.
tun_mesh:
  config_version: 1.1                          # required, exactly 1.1

  clustering:
    # required: this node's control API URL as the other nodes reach it; unique per node.
    control_api_advertise_url: https://198.18.1.1:4567
    auth:
      # required, 32+ characters, the same on every node. Generate one: openssl rand -base64 48
      secret: ${EXAMPLE_SECRET}
      pub_key_size: 2048                       # RSA key bits for the session key exchange, min 2048
    bootstrap_groups:                          # required: group name -> group
      default:
        # Other nodes' advertise URLs. Empty or null on the first node of a cluster.
        bootstrap_node_urls:
          - https://198.18.1.2:4567
        bootstrap_retries: -1                  # -1 retry forever, 0 one attempt, N retries
    reload_config_on_bootstrap: false          # re-read this file before each bootstrap attempt

  control_api:
    listen_port: 4567
    max_batch_size: 64                         # packets per batch request, 1..1024
    ssl:
      cert_file_path: /etc/tunmesh/ssl/cert.pem   # required
      key_file_path: /etc/tunmesh/ssl/key.pem     # required
      ca_file_path: null                       # null: the cert file is the CA for verifying peers
      verify_hostname: false                   # advertise URLs are dynamic, so off by default

  logging:
    level: info                                # error | warn | info | debug

  monitoring:
    method: none                               # none | prometheus (serves /metrics)
    enable_node_packet_metrics: false          # per-peer counters and latency histogram
    metric_ttl: 3600                           # the original's; accepted, unused (a peer's series go when it does)
    prometheus:
      base_labels: {}                          # extra labels on every metric, e.g. {cluster: prod}

  networking:
    tun_device_id: tun1
    ipv4:
      network_cidr: 198.19.1.0/24              # required: the whole mesh range, routed into the tunnel
      node_address_cidr: 198.19.1.1/24         # required: this node's address; prefix = broadcast domain
      enable_broadcast: false

  process:
    uid: 1000                                  # required, >= 1: the non-root uid to drop to
    ipc:                                       # the original's SysV IPC queues; accepted, unused
      group:
        max_init_attempts: 3
        key_range_min: 0x80000000
        key_range_max: 0x8ffffff0
    timing:
      request_timeout: 1.0                     # connect/read timeout for node-to-node requests
      auth:
        session_max_age: 3600                  # session secret lifetime
        early_validity_window: 5.0             # token nbf = iat - this
        validity_window: 30.0                  # token exp = iat + this
      registrations:
        groom_interval: 5.0
        startup_grace: 0                       # seconds /health passes with no registrations
        bootstrap_retry_interval: 15
        local:                                 # peers inside node_address_cidr
          reregistration_interval: 5.0
          stale_threshold: 30.0
        mesh:                                  # all other peers
          reregistration_interval: 30.0
          stale_threshold: 120.0
      network:
        local:
          packet_expiration: 0.1               # min 0.01; older packets are dropped before sending
        mesh:
          packet_expiration: 0.1
      tun_handler:                             # the original's TUN process; accepted, unused
        heartbeat_interval: 1.0
        fault_delay: 1.0

# tunmesh-only settings (the original has none of these; all optional, defaults shown).
# tunmesh:
#   logging:
#     format: auto                  # auto (text on a TTY, else JSON) | json | text
#   process:
#     gid: null                     # null: same as tun_mesh/process/uid
#     workers: 0                    # data-plane worker processes; 0 = sized to the container's CPU quota (1..4)
#   networking:
#     mtu: 1500                     # TUN MTU, 576..9000 (at least 1280 with IPv6)
#     ipv6:                         # IPv6 overlay between tunmesh nodes (both keys or neither)
#       network_cidr: null          # e.g. "2001:2:0:100::/56": the whole IPv6 mesh range
#       node_address_cidr: null     # e.g. "2001:2:0:100::1/64": announced to tunmesh peers only
#   control_api:
#     listen_address: ""            # empty: every address, IPv6 and IPv4 (::); or one IP, e.g. 2001:2::a
#   data_plane:
#     fast_path: true               # false forces the original JSON path to every peer
#     queue_limit: 1024             # packets per peer transmit queue
#     offload: auto                 # TUN offloads (64 KB super-packets between tunmesh nodes): auto, on, off
#   auth:
#     legacy_pkcs1_interop: false   # allow PKCS#1 v1.5 key wrap, needed only with original nodes
#     session_overlap: 30           # seconds the previous session secret stays valid after rotation
#     max_clock_skew: 5             # seconds of clock difference tolerated on tokens
#   health:
#     first_node: false             # true: ready at once, without any registration
#   status_socket: /run/tunmesh/status.sock   # empty string disables the local status socket
#   tls:
#     client_auth: off              # off | request | require: client certificates on /tunmesh/ routes (docs/security.md)
#   security:
#     deny_file: ""                 # YAML {node_ids: [...], cert_fingerprints: [...]}, watched; empty: none
#   # firewall: left out by default: every peer reaches every port (the original). For example
#   # (docs/security.md; first match wins, no match drops, replies to allowed flows always pass):
#   # firewall:
#   #   conntrack: { tcp_timeout: 12m, udp_timeout: 3m }
#   #   inbound:
#   #     - { proto: tcp, port: 5432, group: web }         # groups: from verified certificates (client_auth on)
#   #     - { proto: icmp, host: any }
#   #     - { proto: tcp, port: 22, cidr: 198.19.0.10/32 }  # by address: the only way to match an original node
#   #   outbound: null                                     # null (left out): allow all; [] denies all
`;

/** The commented example config, in the original's format plus a commented `tunmesh:` block. */
export function exampleConfigYaml(): string {
  return EXAMPLE;
}
