// TCP and UDP probes through the mesh: an echo server (python3, TCP and UDP on the same ports,
// IPv4 and IPv6) in one node's namespace, and a one-shot client in another's that says what
// happened: ok (echoed), timeout (dropped on the way), refused, or an error.
import type { ChildProcess } from 'node:child_process';
import type { MeshLab } from '../../src/lab/mesh-lab.js';
import { ProcessOutput } from '../../src/lab/netns.js';
import { killPid } from './netns.js';

const SERVER = `
import socket, sys, threading
def serve_tcp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(('::', port)); s.listen(64)
    while True:
        c, _ = s.accept()
        def echo(c=c):
            while True:
                d = c.recv(65536)
                if not d: break
                c.sendall(d)
            c.close()
        threading.Thread(target=echo, daemon=True).start()
def serve_udp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(('::', port))
    while True:
        d, a = s.recvfrom(65536); s.sendto(d, a)
for p in sys.argv[1:]:
    threading.Thread(target=serve_tcp, args=(int(p),), daemon=True).start()
    threading.Thread(target=serve_udp, args=(int(p),), daemon=True).start()
print('listening', flush=True)
threading.Event().wait()
`;

const CLIENT = `
import socket, sys
proto, host, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
family = socket.AF_INET6 if ':' in host else socket.AF_INET
try:
    if proto == 'tcp':
        s = socket.create_connection((host, port), timeout=timeout); s.sendall(b'probe'); d = s.recv(16)
    else:
        s = socket.socket(family, socket.SOCK_DGRAM); s.settimeout(timeout); s.sendto(b'probe', (host, port)); d, _ = s.recvfrom(16)
    print('ok' if d == b'probe' else 'bad answer')
except socket.timeout:
    print('timeout')
except ConnectionRefusedError:
    print('refused')
except OSError as e:
    print('error ' + str(e))
`;

export type ProbeResult = 'ok' | 'timeout' | 'refused' | string;

export interface EchoServer {
  stop(): void;
}

/** TCP and UDP echo on `ports` in node `i`'s namespace, until stop(). */
export async function startEcho(mesh: MeshLab, i: number, ports: number[]): Promise<EchoServer> {
  const child: ChildProcess = mesh.lab.spawn(i, 'python3', ['-c', SERVER, ...ports.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = new ProcessOutput(child);
  try {
    await out.waitForLine(/listening/, { timeoutMs: 10_000 });
  } catch (err) {
    killPid(child.pid as number);
    throw err;
  }
  return { stop: () => killPid(child.pid as number) };
}

/** One probe from node `from` to `host:port`; `timeoutS` bounds it. */
export async function probe(mesh: MeshLab, from: number, proto: 'tcp' | 'udp', host: string, port: number, timeoutS = 2): Promise<ProbeResult> {
  const r = await mesh.lab.exec(from, 'python3', ['-c', CLIENT, proto, host, String(port), String(timeoutS)], { check: false, timeoutMs: (timeoutS + 10) * 1000 });
  return (r.stdout.trim() || r.stderr.trim()).split('\n').pop() ?? '';
}

/** As probe(), retried (bounded) while it does not answer: for flows expected to pass (a first packet may wait for a channel to open). */
export async function probeAllowed(mesh: MeshLab, from: number, proto: 'tcp' | 'udp', host: string, port: number, attempts = 3): Promise<ProbeResult> {
  let last: ProbeResult = '';
  for (let k = 0; k < attempts; k++) {
    last = await probe(mesh, from, proto, host, port);
    if (last === 'ok') return last;
  }
  return last;
}
