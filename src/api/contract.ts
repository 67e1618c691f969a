// What the API needs from the rest of the node. The API owns HTTP (statuses, bodies,
// content types); `src/auth` checks tokens and `src/mesh` owns membership and sessions.
// Route handlers only translate between the two.
import type { Capabilities } from '../mesh/capabilities.js';
import type { ClientCert } from '../security/client-cert.js';

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
}

/** Mutual TLS on the /tunmesh/ routes (src/security). */
export interface ClientCertChecks {
  /** The connection's verified client certificate, or null; throws CertRefusal. */
  inspect(socket: unknown): ClientCert | null;
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

export interface HealthReport {
  /** The original's /health meaning: every component true. */
  healthy: boolean;
  /** Liveness: this process works (never depends on peers). */
  live: boolean;
  /** Readiness: bootstrapped and registered with at least one peer (or first node). */
  ready: boolean;
  components: Record<string, Record<string, boolean>>;
}

export interface MetricsSource {
  contentType: string;
  render(): Promise<string>;
}

export interface ControlHandlers {
  nodeInfo(): unknown;
  register(auth: RequestAuth, payload: unknown): Promise<unknown>;
  initSession(auth: RequestAuth, payload: unknown): Promise<unknown>;
  registrations(): unknown;
  status(): unknown;
}

export interface PacketHandlers {
  /** The original's JSON packet route; `payloads` are Packet objects (already parsed). */
  receiveLegacy(senderId: string, payloads: unknown[]): void;
}

export interface ApiDeps {
  auth: Authenticator;
  health(): HealthReport;
  metrics: MetricsSource | null;
  control: ControlHandlers;
  packets: PacketHandlers;
  /** Mutual TLS checks; absent: client certificates are not looked at. */
  clientCerts?: ClientCertChecks;
}
