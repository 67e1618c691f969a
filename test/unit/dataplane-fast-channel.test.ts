// The sending fast channel's states, over real TLS to a real upgrade server (test/helpers/fast-peer.ts)
// on Unix sockets: the channel dials `path` instead of a TCP address, everything else is the product's.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import type { DataPlaneSettings, PeerRoute } from '../../src/dataplane/contract.js';
import { FastChannel } from '../../src/dataplane/fast/channel.js';
import { DataPlaneMetrics } from '../../src/dataplane/metrics.js';
import { SessionSigner } from '../../src/dataplane/session-token.js';
import type { TransportDeps } from '../../src/dataplane/transport.js';
import { makeLabPki } from '../../src/lab/pki.js';
import { waitFor } from '../../src/lab/netns.js';
import { lazyLogger } from '../../src/log/logger.js';
import { FastPeer } from '../helpers/fast-peer.js';

const API_PORT = 4567;
const CHANNEL_PORT = 4568;
const WAIT = { timeoutMs: 5000, intervalMs: 10 };

const session = (id: string): { id: string; secretB64: string } => ({ id, secretB64: randomBytes(64).toString('base64') });

describe('fast channel states (down | dialing | open | renewing)', function () {
  this.timeout(20_000);
  let dir: string;
  let tls: { cert: string; key: string; ca: string };
  let api: FastPeer;
  let channelPort: FastPeer;
  let channel: FastChannel | undefined;
  const rejected: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tunmesh-channel-'));
    const pki = await makeLabPki(dir);
    const files = await pki.issue('peer', ['198.18.0.2']);
    tls = { cert: readFileSync(files.certPath, 'utf8'), key: readFileSync(files.keyPath, 'utf8'), ca: readFileSync(pki.caPath, 'utf8') };
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  beforeEach(async () => {
    rejected.length = 0;
    api = new FastPeer(join(dir, 'api.sock'), tls, 'peer', 'self');
    channelPort = new FastPeer(join(dir, 'channel.sock'), tls, 'peer', 'self');
    await api.listen();
  });

  afterEach(async () => {
    channel?.close();
    channel = undefined;
    await api.close();
    await channelPort.close();
  });

  function settings(channelIdleMs = 0): DataPlaneSettings {
    return {
      tokenClaims: {},
      caPem: tls.ca,
      certPem: tls.cert,
      keyPem: tls.key,
      verifyHostname: false,
      requestTimeoutMs: 2000,
      channelIdleMs,
      maxBatchSize: 64,
      queueLimit: 256,
      packetExpirationLocal: 1,
      packetExpirationMesh: 1,
      earlyValidityWindow: 5,
      validityWindow: 30,
      logLevel: 'error',
      logFormat: 'text',
    };
  }

  function route(s: { id: string; secretB64: string } | null, withChannelPort = false): PeerRoute {
    return {
      id: 'peer',
      url: `https://198.18.0.2:${API_PORT}`,
      addressCidr: '198.19.0.2/24',
      networkCidr: '198.19.0.0/24',
      path: 'fast',
      scope: 'local',
      session: s,
      ...(withChannelPort ? { channelPort: CHANNEL_PORT } : {}),
    };
  }

  function open(peer: PeerRoute, idleMs = 0): FastChannel {
    const deps: TransportDeps = {
      selfId: 'self',
      mtu: 1400,
      settings: settings(idleMs),
      signer: new SessionSigner('self', 5, 30, {}),
      metrics: new DataPlaneMetrics(new Registry()),
      onRejected: (peerId, sessionId) => rejected.push(`${peerId}/${sessionId}`),
      log: lazyLogger('error'),
    };
    // The port picks the Unix socket: the API port's server, or the channel port's (which may not listen).
    const paths = new Map([[API_PORT, api.path], [CHANNEL_PORT, channelPort.path]]);
    channel = new FastChannel(peer, deps, { connect: (o) => tlsConnect({ ...o, path: paths.get(o.port ?? 0) }) });
    return channel;
  }

  const packet = (text: string): Buffer => Buffer.from(text);

  function send(ch: FastChannel, text: string): string | null {
    const p = packet(text);
    const why = ch.append(p, 0, p.length);
    ch.flush();
    return why;
  }

  const texts = (packets: Buffer[]): string[] => packets.map((p) => p.toString());

  it('stays down until the first packet, which dials; packets wait while dialing and go out with the 101', async () => {
    const s1 = session('s1');
    api.allow(s1);
    const ch = open(route(s1));
    expect(ch.stateKind).to.equal('down');
    expect(send(ch, 'one')).to.equal(null);
    expect(ch.stateKind).to.equal('dialing');
    expect(send(ch, 'two')).to.equal(null);
    await waitFor(() => ch.stateKind === 'open', { ...WAIT, what: 'the channel open' });
    await waitFor(() => api.accepted[0]?.packets.length === 2, { ...WAIT, what: 'the held packets' });
    expect(texts(api.accepted[0]!.packets)).to.deep.equal(['one', 'two']);
    expect(api.accepted[0]!.session).to.equal('s1');
  });

  it('a full queue drops large packets queue_full but still takes small ones, up to an allowance', async () => {
    const s1 = session('s1');
    api.allow(s1);
    const ch = open(route(s1));
    send(ch, 'open');
    await waitFor(() => ch.stateKind === 'open', { ...WAIT, what: 'the channel open' });
    // One synchronous loop: the peer (in this process) reads nothing meanwhile, so the queue fills.
    const big = Buffer.alloc(1400, 1);
    let bigTaken = 0;
    while (ch.append(big, 0, big.length) === null && bigTaken < 100_000) bigTaken++;
    expect(ch.append(big, 0, big.length), 'a large packet once full').to.equal('queue_full');
    const small = Buffer.alloc(100, 2);
    expect(ch.append(small, 0, small.length), 'a small packet once full').to.equal(null);
    let smallTaken = 1;
    while (ch.append(small, 0, small.length) === null && smallTaken < 100_000) smallTaken++;
    // The allowance is 64 KB of frames beyond the limit: hundreds of small packets, not unbounded.
    expect(smallTaken).to.be.within(100, 1000);
    ch.flush();
    await waitFor(() => (api.accepted[0]?.packets.length ?? 0) === 1 + bigTaken + smallTaken, { ...WAIT, what: 'every packet taken, delivered' });
    expect(api.accepted[0]!.packets.slice(-1)[0]!.length).to.equal(100);
  });

  it('drops packets no_session before main hands it a session, without dialling', () => {
    const ch = open(route(null));
    expect(send(ch, 'x')).to.equal('no_session');
    expect(ch.stateKind).to.equal('down');
  });

  it('a refused upgrade goes down with a backoff and tells main; after the backoff the next packet dials again', async () => {
    const s1 = session('s1');
    const ch = open(route(s1));
    send(ch, 'refused');
    await waitFor(() => ch.stateKind === 'down', { ...WAIT, what: 'the channel down' });
    expect(rejected).to.deep.equal(['peer/s1']);
    expect(api.refused).to.equal(1);
    expect(send(ch, 'during the backoff'), 'backing off').to.equal('node_close');
    api.allow(s1);
    await waitFor(() => send(ch, 'after') === null, { ...WAIT, what: 'the backoff over' }); // the first backoff is 50-100 ms
    await waitFor(() => ch.stateKind === 'open', { ...WAIT, what: 'the channel open' });
    await waitFor(() => api.accepted[0]?.packets.length === 1, { ...WAIT, what: 'the packet after the backoff' });
    expect(texts(api.accepted[0]!.packets)).to.deep.equal(['after']);
  });

  it('a dial to a channel port nobody serves goes on to the API port in the same attempt, the held packets with it', async () => {
    const s1 = session('s1');
    api.allow(s1);
    const ch = open(route(s1, true)); // channelPort announced, its server not listening
    send(ch, 'held');
    await waitFor(() => ch.stateKind === 'open', { ...WAIT, what: 'the channel open on the API port' });
    await waitFor(() => api.accepted[0]?.packets.length === 1, { ...WAIT, what: 'the held packet' });
    expect(texts(api.accepted[0]!.packets)).to.deep.equal(['held']);
  });

  it('dials the channel port when the peer announced one and it answers', async () => {
    const s1 = session('s1');
    channelPort.allow(s1);
    await channelPort.listen();
    const ch = open(route(s1, true));
    send(ch, 'to the workers');
    await waitFor(() => channelPort.accepted[0]?.packets.length === 1, { ...WAIT, what: 'the packet on the channel port' });
    expect(api.accepted).to.have.length(0);
    expect(ch.stateKind).to.equal('open');
  });

  it('a new session renews make before break: the successor takes over, the old channel ends gracefully', async () => {
    const s1 = session('s1');
    const s2 = session('s2');
    api.allow(s1);
    api.allow(s2);
    const ch = open(route(s1));
    send(ch, 'before');
    await waitFor(() => api.accepted[0]?.packets.length === 1, { ...WAIT, what: 'the first channel' });
    ch.update(route(s2));
    expect(ch.stateKind).to.equal('renewing');
    expect(send(ch, 'while renewing')).to.equal(null); // the old channel still carries
    await waitFor(() => ch.stateKind === 'open' && api.accepted.length === 2, { ...WAIT, what: 'the successor took over' });
    expect(api.accepted[1]!.session).to.equal('s2');
    expect(send(ch, 'after')).to.equal(null);
    await waitFor(() => api.accepted[1]!.packets.length === 1 && api.accepted[0]!.ended, { ...WAIT, what: 'the old channel ended' });
    expect(texts(api.accepted[0]!.packets)).to.deep.equal(['before', 'while renewing']);
    expect(texts(api.accepted[1]!.packets)).to.deep.equal(['after']);
  });

  it('a renewal the peer refuses leaves the channel open on its old socket, and is tried again', async () => {
    const s1 = session('s1');
    const s2 = session('s2');
    api.allow(s1);
    const ch = open(route(s1));
    send(ch, 'before');
    await waitFor(() => api.accepted.length === 1, { ...WAIT, what: 'the first channel' });
    ch.update(route(s2));
    await waitFor(() => api.refused === 1 && ch.stateKind === 'open', { ...WAIT, what: 'the renewal refused' });
    expect(send(ch, 'still')).to.equal(null);
    await waitFor(() => api.accepted[0]!.packets.length === 2, { ...WAIT, what: 'the old channel carrying on' });
    api.allow(s2);
    await waitFor(() => api.accepted[1]?.session === 's2' && ch.stateKind === 'open', { ...WAIT, what: 'the renewal retried' });
  });

  it('when the open socket breaks during a renewal, the successor becomes the dialing connection', async () => {
    const s1 = session('s1');
    const s2 = session('s2');
    api.allow(s1);
    api.allow(s2);
    const ch = open(route(s1));
    send(ch, 'before');
    await waitFor(() => api.accepted.length === 1 && ch.stateKind === 'open', { ...WAIT, what: 'the first channel' });
    api.hold = true; // the successor's 101 waits
    ch.update(route(s2));
    await new Promise((r) => setTimeout(r, 200)); // the successor's upgrade reaches the peer
    api.accepted[0]!.socket.destroy();
    await waitFor(() => ch.stateKind === 'dialing', { ...WAIT, what: 'the successor dialing' });
    expect(send(ch, 'held for the successor')).to.equal(null);
    api.release();
    await waitFor(() => ch.stateKind === 'open' && api.accepted[1]?.packets.length === 1, { ...WAIT, what: 'the successor open' });
    expect(api.accepted[1]!.session).to.equal('s2');
    expect(texts(api.accepted[1]!.packets)).to.deep.equal(['held for the successor']);
  });

  it('an idle channel ends and gives its slabs back; the next packet opens it again', async () => {
    const s1 = session('s1');
    api.allow(s1);
    const ch = open(route(s1), 200);
    send(ch, 'once');
    await waitFor(() => ch.stateKind === 'open', { ...WAIT, what: 'the channel open' });
    await waitFor(() => ch.stateKind === 'down' && api.accepted[0]!.ended, { ...WAIT, what: 'the idle close' });
    expect(send(ch, 'again'), 'no backoff after an idle close').to.equal(null);
    expect(ch.stateKind).to.equal('dialing');
    await waitFor(() => api.accepted[1]?.packets.length === 1, { ...WAIT, what: 'the channel reopened' });
  });

  it('close() is final: sockets gone, packets node_close, nothing dials again', async () => {
    const s1 = session('s1');
    api.allow(s1);
    const ch = open(route(s1));
    send(ch, 'one');
    await waitFor(() => api.accepted.length === 1, { ...WAIT, what: 'the channel open' });
    ch.close();
    expect(ch.stateKind).to.equal('closed');
    expect(send(ch, 'after close')).to.equal('node_close');
    await new Promise((r) => setTimeout(r, 200));
    expect(api.accepted).to.have.length(1);
  });
});
