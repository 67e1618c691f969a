// A node's identity beyond the cluster secret, and its reloads (docs/security.md):
//   - TLS material (certificate, key, CA), reloaded on a change in their folders or on SIGHUP:
//     checked whole, then applied to the listener (setSecureContext), the control-plane client
//     and the workers, for new connections only; open fast channels stay. A file that does not
//     load (unparsable, key not matching) is refused with a log line and the old material stays.
//   - mutual TLS policy (tunmesh.tls.client_auth) and the peers' client certificates;
//   - the deny list (tunmesh.security.deny_file), reloaded the same way; applying it grooms the
//     denied nodes, which ends their sessions and channels.
// File watches are set up before the privilege drop; the files must stay readable by the
// configured uid for reloads to read them.
import type { TunmeshConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { SecurityMetrics } from '../metrics/security.js';
import { ClientCertPolicy, short, type ClientCert } from '../security/client-cert.js';
import { DenyList, readDenyFile } from '../security/deny-list.js';
import { PeerCertBook } from '../security/peer-certs.js';
import { filesHold, loadTlsBundle, sameBundle, type TlsBundle, type TlsFiles } from '../security/tls-bundle.js';
import { watchFiles, type FileWatch } from '../security/file-watch.js';
import type { PeerIdentity } from '../mesh/authenticator.js';
import { errorMessage } from '../log/error-message.js';

/** What a reload changes in the running node. */
export interface SecurityAppliers {
  tls(bundle: TlsBundle): void;
  /** The deny list changed: groom whoever it now denies. */
  deny(): void;
}

export function tlsFiles(config: TunmeshConfig): TlsFiles {
  const ssl = config.controlApi.ssl;
  return { certPath: ssl.certFilePath, keyPath: ssl.keyFilePath, caPath: ssl.caFilePath };
}

export class NodeSecurity implements PeerIdentity {
  readonly deny = new DenyList();
  readonly peerCerts = new PeerCertBook();
  readonly policy: ClientCertPolicy;
  tls: TlsBundle;
  private appliers: SecurityAppliers | undefined;
  private watch: FileWatch | undefined;

  /** Loads the TLS material and the deny list; throws a clear error when either cannot be used. */
  constructor(
    private readonly config: TunmeshConfig,
    private readonly log: Logger,
    private readonly metrics: SecurityMetrics,
  ) {
    this.tls = loadTlsBundle(tlsFiles(config));
    if (config.security.denyFile !== null) this.deny.replace(readDenyFile(config.security.denyFile));
    this.policy = new ClientCertPolicy(config.security.clientAuth, this.deny);
    metrics.attach({
      peerCertExpiries: () => [...this.peerCerts.entries()].map(([id, cert]) => [id, cert.notAfter] as [string, number]),
      denyListSize: () => this.deny.size,
    });
  }

  bind(cert: ClientCert | null, url: string, who: string): void {
    this.policy.bind(cert, url, who);
  }

  record(peerId: string, cert: ClientCert | null | undefined): void {
    const before = this.peerCerts.get(peerId);
    if (cert && before && before.fingerprint !== cert.fingerprint) {
      this.log.info('peer presents a new client certificate', { component: 'security', peer: peerId, was: short(before.fingerprint), now: short(cert.fingerprint), notAfter: new Date(cert.notAfter * 1000).toISOString() });
    }
    this.peerCerts.record(peerId, cert);
  }

  /** Denied by id, or by the fingerprint of the client certificate it presented. */
  readonly refusesNode = (id: string): boolean => {
    if (this.deny.deniesId(id)) return true;
    const cert = this.peerCerts.get(id);
    return cert !== undefined && this.deny.deniesFingerprint(cert.fingerprint);
  };

  /** Watches the files' folders now (before the privilege drop); reloads apply once start() is called. */
  watchFiles(): void {
    const files = tlsFiles(this.config);
    const paths = [files.certPath, files.keyPath, ...(files.caPath ? [files.caPath] : []), ...(this.config.security.denyFile ? [this.config.security.denyFile] : [])];
    this.watch = watchFiles(
      paths,
      () => this.reload('file change'),
      (dir, err) => this.log.warn('cannot watch a folder for TLS or deny-list changes; SIGHUP still reloads', { component: 'security', dir, error: err.message }),
    );
  }

  start(appliers: SecurityAppliers): void {
    this.appliers = appliers;
    if (this.config.security.clientAuth !== 'off') {
      this.log.info('mutual TLS on the node-to-node routes', { component: 'security', clientAuth: this.config.security.clientAuth, fingerprint: short(this.tls.fingerprint) });
    }
  }

  stop(): void {
    this.watch?.close();
    this.appliers = undefined;
  }

  /** Re-reads the TLS files and the deny list; each is applied only when it loads and differs. */
  reload(why: string): void {
    if (this.appliers === undefined) return;
    this.reloadTls(why, this.appliers);
    this.reloadDenyList(why, this.appliers);
  }

  private reloadTls(why: string, apply: SecurityAppliers): void {
    if (filesHold(tlsFiles(this.config), this.tls)) {
      if (why === 'SIGHUP') this.metrics.reloaded('tls', 'unchanged');
      return;
    }
    let next: TlsBundle;
    try {
      next = loadTlsBundle(tlsFiles(this.config));
    } catch (err) {
      this.metrics.reloaded('tls', 'refused');
      this.log.error('TLS reload refused; the material in use stays', { component: 'security', why, error: errorMessage(err) });
      return;
    }
    if (sameBundle(next, this.tls)) {
      if (why === 'SIGHUP') this.metrics.reloaded('tls', 'unchanged');
      return;
    }
    try {
      apply.tls(next);
    } catch (err) {
      this.metrics.reloaded('tls', 'refused');
      this.log.error('TLS reload refused; the material in use stays', { component: 'security', why, error: errorMessage(err) });
      return;
    }
    this.tls = next;
    this.metrics.reloaded('tls', 'applied');
    this.log.info('TLS material reloaded', { component: 'security', why, fingerprint: short(next.fingerprint), notAfter: new Date(next.notAfter * 1000).toISOString() });
  }

  private reloadDenyList(why: string, apply: SecurityAppliers): void {
    const file = this.config.security.denyFile;
    if (file === null) return;
    let changed: boolean;
    try {
      changed = this.deny.replace(readDenyFile(file));
    } catch (err) {
      this.metrics.reloaded('deny_list', 'refused');
      this.log.error('deny list reload refused; the list in use stays', { component: 'security', why, error: errorMessage(err) });
      return;
    }
    if (!changed) {
      if (why === 'SIGHUP') this.metrics.reloaded('deny_list', 'unchanged');
      return;
    }
    this.metrics.reloaded('deny_list', 'applied');
    this.log.warn('deny list reloaded', { component: 'security', why, ...this.deny.size });
    apply.deny();
  }
}
