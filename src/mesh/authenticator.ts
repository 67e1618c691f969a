// Request authentication for the API (api/middleware/auth.ts calls this and nothing else):
// cluster routes take the shared-secret token once (replay cache); session routes take a key
// we issued to the token's issuer. Answers are signed with the key family that authenticated
// the request: the cluster key, or our outbound session key toward the requester. Every token
// carries our capability claim, and a claim-less token from a known tunmesh node is refused.
import { parseAuthHeader } from '../auth/header.js';
import { signToken, verifyToken } from '../auth/tokens.js';
import { formatAuthHeader } from '../auth/header.js';
import { ReplayCache } from '../auth/replay.js';
import { AuthError } from '../auth/errors.js';
import type { AuthKey } from '../auth/keys.js';
import type { AuthMode, Authenticator, RequestAuth } from '../api/contract.js';
import type { SessionManager } from './session-manager.js';
import type { Registry } from './registry.js';
import type { MeshTiming } from './timing.js';
import { capabilitiesOf } from './capabilities.js';

export class MeshAuthenticator implements Authenticator {
  private readonly replay: ReplayCache;

  constructor(
    private readonly sessions: SessionManager,
    private readonly registry: Registry,
    private readonly timing: MeshTiming,
  ) {
    this.replay = new ReplayCache({ skewSeconds: timing.maxClockSkew });
  }

  async authenticate(header: string | undefined, body: Buffer, mode: AuthMode, expectedPeer?: string): Promise<RequestAuth> {
    const token = parseAuthHeader(header);
    const options = {
      audience: this.sessions.selfId,
      body,
      maxClockSkew: this.timing.maxClockSkew,
      ...(expectedPeer ? { issuer: expectedPeer } : {}),
    };
    const verified =
      mode === 'cluster'
        ? await this.sessions.cluster.verify(token, { ...options, replayCache: this.replay })
        : await verifyToken(token, { ...options, keys: this.sessions.anyInboundKey });
    const capabilities = capabilitiesOf(verified.extraClaims);
    this.registry.checkCapabilities(verified.issuer, capabilities);
    return { mode, peerId: verified.issuer, keyId: verified.keyId, capabilities };
  }

  async prepareAnswer(auth: RequestAuth): Promise<void> {
    await this.answerKey(auth);
  }

  /** Cluster answers are signed with the cluster key; session answers with our key toward the requester. */
  private async answerKey(auth: RequestAuth): Promise<AuthKey> {
    if (auth.mode === 'cluster') return this.sessions.cluster.signing;
    const peer = this.registry.get(auth.peerId);
    if (!peer) throw new AuthError('unknown_key', `no route back to ${auth.peerId} to sign the answer`);
    return this.sessions.outboundKey({ id: peer.info.id, url: peer.info.listen_url });
  }

  async signResponse(auth: RequestAuth, body: string): Promise<string> {
    const key = await this.answerKey(auth);
    const token = await signToken({
      key,
      issuer: this.sessions.selfId,
      audience: auth.peerId,
      body,
      earlyValidity: this.timing.earlyValidityWindow,
      validity: this.timing.validityWindow,
      extraClaims: this.sessions.tokenClaims,
    });
    return formatAuthHeader(token);
  }
}
