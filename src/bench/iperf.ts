// iperf3 between the bench's two namespaces: a one-off server in side 1, the client in side 0.
import { ProcessOutput } from '../lab/netns.js';
import type { VethPair } from './topology.js';

export const IPERF_PORT = 5201;

/** Runs `iperf3 -c server ... -J` for `seconds` against a one-off server; returns the JSON text. */
export async function iperf(pair: VethPair, server: string, args: string[], seconds: number): Promise<string> {
  const srv = new ProcessOutput(pair.spawn(1, 'iperf3', ['-s', '-1', '--forceflush', '-B', server, '-p', String(IPERF_PORT)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  try {
    await srv.waitForLine(/listening/i, { timeoutMs: 10_000, what: 'iperf3 server' });
    const r = await pair.exec(0, 'iperf3', ['-c', server, '-p', String(IPERF_PORT), '-J', '--connect-timeout', '5000', '-t', String(seconds), ...args], (seconds + 30) * 1000, false);
    return r.stdout;
  } finally {
    if (srv.child.pid !== undefined && !srv.exited) {
      await srv.waitForExit(3000).catch(() => {
        if (srv.child.pid !== undefined) process.kill(srv.child.pid, 'SIGKILL');
      });
    }
  }
}
