// A real DNS server (dnsmasq) for discovery tests: it runs in the lab's bridge namespace on an
// address of the bridge, and every node namespace resolves through it (`ip netns exec` mounts
// /etc/netns/<ns>/resolv.conf over /etc/resolv.conf). Records live in a hosts file that
// set() rewrites and SIGHUP reloads, as a headless Service's records change when pods come
// and go. TTL 0 and no negative cache: every lookup sees the records as they are now.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { killPid, spawnInNetns, waitFor, type Lab } from './netns.js';

/** The bridge's own address in the lab underlay (nodes are .10 and up). */
export const DNS_SERVER_ADDRESS = '198.18.0.2';

export class DnsServer {
  private child: ChildProcess | undefined;

  private constructor(
    private readonly lab: Lab,
    private readonly dir: string,
    private readonly records: Map<string, string[]>,
  ) {}

  /** Starts dnsmasq answering only for `records` (no upstream: nothing leaves the lab). */
  static async start(lab: Lab, records: Record<string, string[]>): Promise<DnsServer> {
    const dir = mkdtempSync(join(tmpdir(), `${lab.prefix}-dns-`));
    const server = new DnsServer(lab, dir, new Map(Object.entries(records)));
    execFileSync('ip', ['-n', lab.bridgeNs, 'addr', 'add', `${DNS_SERVER_ADDRESS}/24`, 'dev', 'br0']);
    for (const node of lab.nodes) {
      const etc = `/etc/netns/${node.ns}`;
      mkdirSync(etc, { recursive: true });
      writeFileSync(join(etc, 'resolv.conf'), `nameserver ${DNS_SERVER_ADDRESS}\noptions timeout:1 attempts:1\n`);
    }
    server.writeHosts();
    await server.run();
    return server;
  }

  /** Replaces the addresses of `name` (empty: no record) and reloads the server. */
  set(name: string, addresses: string[]): void {
    this.records.set(name, addresses);
    this.writeHosts();
    if (this.child?.pid !== undefined) process.kill(this.child.pid, 'SIGHUP');
  }

  /** Stops the server (the records stay for a later resume()). */
  async stop(): Promise<void> {
    const child = this.child;
    if (child?.pid === undefined) return;
    killPid(child.pid, 'SIGKILL');
    await waitFor(() => child.exitCode !== null || child.signalCode !== null, { timeoutMs: 3000, what: 'dnsmasq to stop' });
    this.child = undefined;
  }

  async resume(): Promise<void> {
    if (this.child === undefined) await this.run();
  }

  /** Stops the server and removes the lab's resolv.conf files. */
  async cleanup(): Promise<void> {
    await this.stop().catch(() => undefined);
    for (const node of this.lab.nodes) rmSync(`/etc/netns/${node.ns}`, { recursive: true, force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }

  private writeHosts(): void {
    const lines = [...this.records].flatMap(([name, addresses]) => addresses.map((a) => `${a} ${name}`));
    writeFileSync(join(this.dir, 'hosts'), lines.join('\n') + '\n', { mode: 0o644 });
  }

  private async run(): Promise<void> {
    const args = [
      '--keep-in-foreground', '--no-resolv', '--no-hosts', '--no-poll', '--no-negcache',
      `--addn-hosts=${join(this.dir, 'hosts')}`, `--listen-address=${DNS_SERVER_ADDRESS}`, '--bind-interfaces',
      '--local-ttl=0', '--user=root', '--pid-file=', '--log-facility=-',
    ];
    const child = spawnInNetns(this.lab.bridgeNs, 'dnsmasq', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.lab.track(child.pid);
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`dnsmasq exited (${child.exitCode}): ${stderr.slice(0, 500)}`);
        return this.answers();
      },
      { timeoutMs: 5000, intervalMs: 100, what: 'dnsmasq to answer' },
    );
  }

  /** dnsmasq listens (its UDP socket is bound in the bridge namespace). */
  private answers(): boolean {
    const out = execFileSync('ip', ['netns', 'exec', this.lab.bridgeNs, 'ss', '-Hlun'], { encoding: 'utf8' });
    return out.includes(`${DNS_SERVER_ADDRESS}:53`);
  }
}
