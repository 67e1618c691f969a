// Metrics of mutual TLS, hot reload and the deny list (docs/security.md):
//   tunmesh_security_reloads_total{what="tls"|"deny_list"|"firewall", result="applied"|"unchanged"|"refused"}
//   tunmesh_peer_certificate_expiry_seconds{peer}   seconds until each peer's client certificate
//       expires (mutual TLS on; computed at scrape time). `peer`, like the other per-peer series:
//       `node_id` is the scraped node's own label.
//   tunmesh_deny_list_entries{kind="node_ids"|"cert_fingerprints"}
import { Counter, Gauge, type Registry } from 'prom-client';

export type ReloadWhat = 'tls' | 'deny_list' | 'firewall';
export type ReloadResult = 'applied' | 'unchanged' | 'refused';

export interface PeerCertExpiries {
  /** Peer id -> unix seconds when its client certificate expires. */
  peerCertExpiries(): Iterable<[string, number]>;
  denyListSize(): { nodeIds: number; fingerprints: number };
}

export class SecurityMetrics {
  private readonly reloads: Counter;
  private source: PeerCertExpiries | undefined;

  constructor(registry: Registry) {
    const registers = [registry];
    const source = (): PeerCertExpiries | undefined => this.source;
    this.reloads = new Counter({ name: 'tunmesh_security_reloads_total', help: 'Reloads of TLS material and the deny list, by result', labelNames: ['what', 'result'], registers });
    new Gauge({
      name: 'tunmesh_peer_certificate_expiry_seconds',
      help: "Seconds until each peer's client certificate expires (mutual TLS)",
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        const now = Date.now() / 1000;
        for (const [peer, notAfter] of source()?.peerCertExpiries() ?? []) this.labels(peer).set(Math.round(notAfter - now));
      },
    });
    new Gauge({
      name: 'tunmesh_deny_list_entries',
      help: 'Entries of the deny list in use, by kind',
      labelNames: ['kind'],
      registers,
      collect() {
        const size = source()?.denyListSize() ?? { nodeIds: 0, fingerprints: 0 };
        this.labels('node_ids').set(size.nodeIds);
        this.labels('cert_fingerprints').set(size.fingerprints);
      },
    });
  }

  attach(source: PeerCertExpiries): void {
    this.source = source;
  }

  reloaded(what: ReloadWhat, result: ReloadResult): void {
    this.reloads.labels(what, result).inc();
  }
}
