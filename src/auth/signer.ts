// The one token signer of a node: every token tunmesh sends (a request to a peer, the signed
// answer to a peer's request, a data-plane packet or channel upgrade) is an `Authorization`
// header from here, issued by this node, to one peer, over one body, with the same validity
// windows and extra claims. Callers choose the key (cluster or session) and the audience, and a
// registration adds its session ask or offer to the claims.
import { formatAuthHeader } from './header.js';
import type { AuthKey } from './keys.js';
import { signToken } from './tokens.js';

/** Who signs: our node id and the claims beyond the original's (read at every signature). */
export interface TokenIssuer {
  readonly selfId: string;
  readonly tokenClaims: Readonly<Record<string, unknown>>;
}

/** Seconds a token is valid before and after it is issued (mesh/timing.ts holds the configured ones). */
export interface TokenWindows {
  readonly earlyValidityWindow: number;
  readonly validityWindow: number;
}

export class TokenSigner {
  constructor(
    private readonly issuer: TokenIssuer,
    private readonly windows: TokenWindows,
  ) {}

  /**
   * The `Authorization` value for `body` sent to (or answered to) node `audience`, signed with
   * `key`. `claims` replaces the issuer's extra claims for this one token (a registration's
   * session ask or offer, mesh/session-offer.ts).
   */
  async authorization(key: AuthKey, audience: string, body: string | Buffer, claims: Readonly<Record<string, unknown>> = this.issuer.tokenClaims): Promise<string> {
    const token = await signToken({
      key,
      issuer: this.issuer.selfId,
      audience,
      body,
      earlyValidity: this.windows.earlyValidityWindow,
      validity: this.windows.validityWindow,
      extraClaims: claims,
    });
    return formatAuthHeader(token);
  }
}
