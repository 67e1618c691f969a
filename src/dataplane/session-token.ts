// Signs the outbound session tokens the data plane sends, through the node's one token signer
// (auth/signer.ts): one imported key per session id, kept while the session lives (jose imports
// keys slowly; never once per request).
import { sessionKey, type AuthKey } from '../auth/keys.js';
import { TokenSigner } from '../auth/signer.js';
import type { PeerRoute } from './contract.js';

export class SessionSigner {
  private readonly keys = new Map<string, AuthKey>();
  private readonly signer: TokenSigner;

  constructor(selfId: string, earlyValidityWindow: number, validityWindow: number, tokenClaims: Readonly<Record<string, unknown>>) {
    this.signer = new TokenSigner({ selfId, tokenClaims }, { earlyValidityWindow, validityWindow });
  }

  /** The `Authorization` value for a request to `peer` carrying `body`; null without a session. */
  async header(peer: PeerRoute, body: string | Buffer): Promise<string | null> {
    const session = peer.session;
    if (session === null) return null;
    let key = this.keys.get(session.id);
    if (key === undefined) {
      key = sessionKey(session.id, Buffer.from(session.secretB64, 'base64'));
      this.keys.set(session.id, key);
    }
    return this.signer.authorization(key, peer.id, body);
  }

  /** Forgets keys of sessions no longer in use (called on every new state). */
  retain(peers: readonly PeerRoute[]): void {
    const live = new Set(peers.map((p) => p.session?.id));
    for (const id of this.keys.keys()) if (!live.has(id)) this.keys.delete(id);
  }
}
