// The node's HTTPS API: the Koa app over the control plane and receive path, the fast-path
// upgrade on the same port (closed by api/server.ts closeServer).
import type https from 'node:https';
import type { TunmeshConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { createApp } from '../api/app.js';
import { createHttpsServer, listen } from '../api/server.js';
import type { TlsMaterial } from '../security/tls-bundle.js';
import type { ReceivePath } from '../dataplane/receive.js';
import type { NodeMetrics } from '../metrics/node.js';
import type { LocalIdentity } from '../mesh/identity.js';
import type { ControlPlane } from './control-plane.js';
import { controlHandlers } from './control.js';
import type { NodeViews } from '../status/views.js';
import type { NodeSecurity } from './security.js';

export interface ApiParts {
  config: TunmeshConfig;
  log: Logger;
  tls: TlsMaterial;
  self: LocalIdentity;
  cp: ControlPlane;
  rx: ReceivePath;
  views: NodeViews;
  metrics: NodeMetrics;
  security: NodeSecurity;
}

export async function startApi(a: ApiParts): Promise<https.Server> {
  const { cp, metrics, log } = a;
  const app = createApp(
    {
      auth: cp.authenticator,
      health: () => a.views.health(),
      metrics:
        a.config.monitoring.method === 'prometheus' ? { contentType: metrics.contentType, render: async () => metrics.render(await a.views.workerSnapshots('all')) } : null,
      control: controlHandlers({
        self: a.self,
        registry: cp.registry,
        membership: cp.membership,
        sessions: cp.sessions,
        status: () => a.views.status(),
        onSessionIssued: (how) => metrics.sessionEvents.labels(how).inc(),
        identity: a.security,
      }),
      packets: { receiveLegacy: (sender, packets) => a.rx.receiveLegacy(sender, packets) },
      ...(a.security.policy.mode === 'off' ? {} : { clientCerts: a.security.policy }),
    },
    log,
    (reason) => {
      metrics.authFailures.labels(reason).inc();
      log.warn('request refused', { component: 'auth', reason });
    },
  );
  const server = createHttpsServer(a.tls, app, { requestCert: a.security.policy.mode !== 'off', ca: a.security.tls.ca });
  server.on('upgrade', (req, socket, head) => a.rx.handleUpgrade(req, socket, head));
  // No address: Node listens on `::` with IPv4 mapped in (dual-stack), or 0.0.0.0 without IPv6.
  const address = a.config.controlApi.listenAddress || undefined;
  await listen(server, a.config.controlApi.listenPort, address);
  log.info('API listening', {
    component: 'api',
    address: address ?? '(every address)',
    port: a.config.controlApi.listenPort,
    tls: '>=1.2',
    clientAuth: a.security.policy.mode,
  });
  return server;
}
