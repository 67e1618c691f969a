// The control routes' handlers: validate the payload into its typed shape, then hand it to
// membership or the session manager. No HTTP here (src/api owns that).
import type { ControlHandlers } from '../api/contract.js';
import type { RequestAuth } from '../mesh/authenticator.js';
import type { Membership } from '../mesh/membership.js';
import { addressOf, type Registry } from '../mesh/registry.js';
import type { SessionManager } from '../mesh/session-manager.js';
import type { LocalIdentity } from '../mesh/identity.js';
import { MeshError } from '../mesh/errors.js';
import { parseInitSessionRequest, parseRegistration } from '../mesh/types.js';
import { withOffer } from '../mesh/session-offer.js';
import type { StatusReport } from '../status/report.js';
import type { PeerIdentity } from '../mesh/authenticator.js';

export interface ControlDeps {
  self: LocalIdentity;
  registry: Registry;
  membership: Membership;
  sessions: SessionManager;
  status(): StatusReport;
  /** We issued a session: for an init_session (`issued`) or offered both with a registration (`offered`). */
  onSessionIssued(how: 'issued' | 'offered'): void;
  /** Mutual TLS: a registration's listen_url must be named by its client certificate. */
  identity?: PeerIdentity;
}

export function controlHandlers(deps: ControlDeps): ControlHandlers {
  return {
    nodeInfo: () => deps.self.info,
    register: async (auth: RequestAuth, payload: unknown) => {
      const reg = parseRegistration(payload);
      deps.identity?.bind(auth.clientCert ?? null, reg.local.listen_url, auth.peerId);
      // Sessions first: taking the registration opens our session toward the peer, and with the
      // offer's key in place that needs no init_session.
      const known = deps.registry.get(auth.peerId) !== undefined;
      const offer = auth.sessionAsk === undefined ? undefined : deps.sessions.offer(auth.peerId, auth.sessionAsk, auth.capabilities);
      let answer;
      try {
        answer = deps.membership.receive(auth.peerId, auth.capabilities, reg);
      } catch (err) {
        if (offer && !known) deps.sessions.forget(auth.peerId);
        throw err;
      }
      if (offer) {
        auth.answerClaims = withOffer(deps.sessions.tokenClaims, offer);
        deps.onSessionIssued('offered');
      }
      deps.identity?.record(auth.peerId, auth.clientCert);
      return answer;
    },
    initSession: async (auth: RequestAuth, payload: unknown) => {
      const request = parseInitSessionRequest(payload);
      // As the original: a sender registers before it asks for a session.
      if (!deps.registry.get(auth.peerId)) throw new MeshError('unknown_sender', `Node ${auth.peerId} is not registered`);
      const answer = deps.sessions.issue(auth.peerId, request, auth.capabilities);
      deps.onSessionIssued('issued');
      return answer;
    },
    registrations: () => ({
      nodes: deps.registry.all().map((n) => n.info),
      addresses: Object.fromEntries(deps.registry.all().map((n) => [addressOf(n.info), n.info.id])),
    }),
    status: () => deps.status(),
  };
}
