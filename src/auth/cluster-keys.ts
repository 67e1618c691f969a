// The cluster secret, and the secrets also accepted while it is being rotated.
//
// Rotation without a partition takes three rolling restarts, each leaving every pair of nodes
// with a secret in common: (1) add the new secret to additional_cluster_secrets everywhere;
// (2) make it `secret` and move the old one to additional_cluster_secrets; (3) drop the old one.
// Only `secret` ever signs; the others only verify.
import { AuthError } from './errors.js';
import { clusterKey, type AuthKey } from './keys.js';
import { verifyToken, type VerifiedToken, type VerifyTokenOptions } from './tokens.js';

export class ClusterKeys {
  readonly signing: AuthKey;
  private readonly accepted: readonly AuthKey[];

  constructor(secret: string, additional: readonly string[] = []) {
    this.signing = clusterKey(secret);
    this.accepted = [this.signing, ...additional.map((s) => clusterKey(s))];
  }

  /**
   * Verify a cluster token with each accepted secret in turn (they share the `sub` "Cluster
   * Auth", so the MAC is what tells them apart). Any refusal other than a bad MAC is final.
   */
  async verify(token: string, options: Omit<VerifyTokenOptions, 'keys'>): Promise<VerifiedToken> {
    let firstRefusal: AuthError | undefined;
    for (const key of this.accepted) {
      try {
        return await verifyToken(token, { ...options, keys: (id) => (id === key.id ? { key } : undefined) });
      } catch (err) {
        if (!(err instanceof AuthError) || err.reason !== 'bad_signature') throw err;
        firstRefusal ??= err;
      }
    }
    throw firstRefusal ?? new AuthError('bad_signature', 'no cluster secret verifies the token');
  }
}
