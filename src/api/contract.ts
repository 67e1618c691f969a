// What the API needs from the rest of the node. The API owns HTTP (statuses, bodies,
// content types); `src/auth` checks tokens and `src/mesh` owns membership and sessions.
// Route handlers only translate between the two. Types are owned by who implements them
// (the authenticator by mesh/, health by status/); the handler sets below are the API's own
// ports, which the composition root (node/control.ts) fills.
import type { Authenticator, RequestAuth } from '../mesh/authenticator.js';
import type { ClientCert } from '../security/client-cert.js';
import type { HealthReport } from '../status/health.js';

/** Mutual TLS on the /tunmesh/ routes (src/security). */
export interface ClientCertChecks {
  /** The connection's verified client certificate, or null; throws CertRefusal. */
  inspect(socket: unknown): ClientCert | null;
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
