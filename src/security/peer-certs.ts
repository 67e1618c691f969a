// The client certificate each registered peer last presented (mutual TLS on): shown by
// `tunmesh status`, exported as seconds to expiry, and matched against the deny list's
// fingerprints when it changes. Entries go with the peer (registry removal).
import type { ClientCert } from './client-cert.js';

export class PeerCertBook {
  private readonly certs = new Map<string, ClientCert>();

  record(peerId: string, cert: ClientCert | null | undefined): void {
    if (cert) this.certs.set(peerId, cert);
  }

  get(peerId: string): ClientCert | undefined {
    return this.certs.get(peerId);
  }

  forget(peerId: string): void {
    this.certs.delete(peerId);
  }

  entries(): IterableIterator<[string, ClientCert]> {
    return this.certs.entries();
  }
}
