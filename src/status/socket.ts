// A local unix socket that answers `tunmesh status`. Local only (file mode 0600, owned by the
// node's uid): peer topology is not served on the network port.
import http from 'node:http';
import { chownSync, mkdirSync, rmSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StatusReport } from './report.js';

export async function serveStatusSocket(path: string, uid: number, gid: number, report: () => StatusReport): Promise<http.Server> {
  mkdirSync(dirname(path), { recursive: true });
  rmSync(path, { force: true });
  const server = http.createServer((req, res) => {
    const body = JSON.stringify(report());
    res.writeHead(req.url === '/' || req.url === '/status' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(req.url === '/' || req.url === '/status' ? body : '{"error":"not found"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  if (process.getuid?.() === 0) chownSync(path, uid, gid);
  return server;
}
