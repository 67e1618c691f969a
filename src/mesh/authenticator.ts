// Request authentication for the API (api/middleware/auth.ts calls this and nothing else):
// cluster routes take the shared-secret token once (replay cache); session routes take a key
// we issued to the token's issuer. Answers are signed with the key family that authenticated
// the request: the cluster key, or our outbound session key toward the requester. Every token
// carries our capability claim, and a claim-less token from a known tunmesh node is refused.
// A denied issuer is refused (`denied`); with mutual TLS the client certificate must name the
// URL the issuer registered with (`san_mismatch`), and is remembered for status and deny checks.
import { parseAuthHeader } from '../auth/header.js';
import { verifyToken } from '../auth/tokens.js';
import { TokenSigner } from '../auth/signer.js';
import { ReplayCache } from '../auth/replay.js';
import { AuthError } from '../auth/errors.js';
import type { AuthKey } from '../auth/keys.js';
import type { SessionManager } from './session-manager.js';
import type { Registry } from './registry.js';
import type { MeshTiming } from './timing.js';
import { capabilitiesOf, type Capabilities } from './capabilities.js';
import { askOf } from './session-offer.js';
import type { ClientCert } from '../security/client-cert.js';

// The request authentication the API calls (api/contract.ts ApiDeps.auth), defined here by the
// one that implements it.

export type AuthMode = 'cluster' | 'session';

/** Who sent a request, as proven by its token. */
export interface RequestAuth {
  mode: AuthMode;
  peerId: string;
  keyId: string;
  /** The sender's signed capability claim; null: an original node. */
  capabilities: Capabilities | null;
  /** The verified client certificate of the connection (mutual TLS); null/absent: none. */
  clientCert?: ClientCert | null;
  /** A cluster-signed request's public key asking for both sessions in the answer (session-offer.ts). */
  sessionAsk?: string;
  /** Set by the handler: the claims the signed answer carries instead of ours (the session offer). */
  answerClaims?: Readonly<Record<string, unknown>>;
}

export interface Authenticator {
  /**
   * Verify the Authorization header over the exact body; throws AuthError on any failure (or
   * CertRefusal when `clientCert` does not name the issuer's registered URL).
   */
  authenticate(header: string | undefined, body: Buffer, mode: AuthMode, expectedPeer?: string, clientCert?: ClientCert | null): Promise<RequestAuth>;
  /**
   * Make sure an answer to this request can be signed (for a session request: our outbound
   * session toward the requester), before the handler changes any state.
   */
  prepareAnswer(auth: RequestAuth): Promise<void>;
  /** The Authorization header value that signs a response body for the requester. */
  signResponse(auth: RequestAuth, body: string): Promise<string>;
}

/** Mutual TLS identity: binds a certificate to a URL, remembers what each peer presented. */
export interface PeerIdentity {
  bind(cert: ClientCert | null, url: string, who: string): void;
  record(peerId: string, cert: ClientCert | null | undefined): void;
}

export class MeshAuthenticator implements Authenticator {
  private readonly replay: ReplayCache;
  private readonly signer: TokenSigner;

  constructor(
    private readonly sessions: SessionManager,
    private readonly registry: Registry,
    private readonly timing: MeshTiming,
    private readonly identity?: PeerIdentity,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {
    this.replay = new ReplayCache({ skewSeconds: timing.maxClockSkew });
    this.signer = new TokenSigner(sessions, timing);
  }

  async authenticate(header: string | undefined, body: Buffer, mode: AuthMode, expectedPeer?: string, clientCert: ClientCert | null = null): Promise<RequestAuth> {
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
    if (this.registry.refuses(verified.issuer)) throw new AuthError('denied', `node ${verified.issuer} is on the deny list`);
    const capabilities = capabilitiesOf(verified.extraClaims);
    this.registry.checkCapabilities(verified.issuer, capabilities);
    const known = this.registry.get(verified.issuer);
    if (known) this.registry.touch(verified.issuer, this.now());
    if (known && this.identity) {
      this.identity.bind(clientCert, known.info.listen_url, verified.issuer);
      this.identity.record(verified.issuer, clientCert);
    }
    const sessionAsk = mode === 'cluster' ? askOf(verified.extraClaims) : undefined;
    return { mode, peerId: verified.issuer, keyId: verified.keyId, capabilities, clientCert, ...(sessionAsk ? { sessionAsk } : {}) };
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
    return this.signer.authorization(key, auth.peerId, body, auth.answerClaims ?? this.sessions.tokenClaims);
  }
}
