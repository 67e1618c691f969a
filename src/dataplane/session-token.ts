// Signs the outbound session tokens the data plane sends: one imported key per session id,
// kept while the session lives (jose imports keys slowly; never once per request).
import { formatAuthHeader } from '../auth/header.js';
import { sessionKey, type AuthKey } from '../auth/keys.js';
import { signToken } from '../auth/tokens.js';
import type { PeerRoute } from './contract.js';

export class SessionSigner {
  private readonly keys = new Map<string, AuthKey>();

  constructor(
    private readonly selfId: string,
    private readonly earlyValidity: number,
    private readonly validity: number,
    private readonly extraClaims: Readonly<Record<string, unknown>>,
  ) {}

  /** The `Authorization` value for a request to `peer` carrying `body`; null without a session. */
  async header(peer: PeerRoute, body: string | Buffer): Promise<string | null> {
    const session = peer.session;
    if (session === null) return null;
    let key = this.keys.get(session.id);
    if (key === undefined) {
      key = sessionKey(session.id, Buffer.from(session.secretB64, 'base64'));
      this.keys.set(session.id, key);
    }
    const token = await signToken({
      key,
      issuer: this.selfId,
      audience: peer.id,
      body,
      earlyValidity: this.earlyValidity,
      validity: this.validity,
      extraClaims: this.extraClaims,
    });
    return formatAuthHeader(token);
  }

  /** Forgets keys of sessions no longer in use (called on every new state). */
  retain(peers: readonly PeerRoute[]): void {
    const live = new Set(peers.map((p) => p.session?.id));
    for (const id of this.keys.keys()) if (!live.has(id)) this.keys.delete(id);
  }
}
