import { expect } from 'chai';
import { PortPolicy } from '../../src/dataplane/fast/port-policy.js';

describe('fast channel port policy (channel port, else API port)', () => {
  const withPort = { url: 'https://198.18.0.2:4567', channelPort: 4568 };
  const apiOnly = { url: 'https://198.18.0.2:4567' };

  it('dials the channel port when the peer announced one, else its API port', () => {
    expect(new PortPolicy().target(withPort)).to.deep.equal({ host: '198.18.0.2', port: 4568, authority: '198.18.0.2:4568', viaChannelPort: true });
    expect(new PortPolicy().target(apiOnly)).to.deep.include({ port: 4567, viaChannelPort: false });
    expect(new PortPolicy().target({ url: 'https://[2001:2::b]:4567', channelPort: 4568 })).to.deep.include({ host: '2001:2::b', authority: '[2001:2::b]:4568' });
  });

  it('a failed dial to the channel port falls back to the API port at once, and the next reconnect tries the channel port again', () => {
    const ports = new PortPolicy();
    const first = ports.target(withPort);
    expect(ports.failed(first), 'first failure there: logged').to.equal(true);
    expect(ports.fallbackNow).to.equal(true);
    const fallback = ports.target(withPort);
    expect(fallback.port).to.equal(4567);
    expect(ports.failed(fallback), 'the API port failing is no channel-port failure').to.equal(false);
    expect(ports.fallbackNow, 'backoff, not another immediate dial').to.equal(false);
    expect(ports.target(withPort).port, 'a blocked channel port costs one attempt per reconnect').to.equal(4568);
  });

  it('a channel open on the API port probes the channel port again; one back on it stops probing', () => {
    const ports = new PortPolicy();
    ports.failed(ports.target(withPort));
    const fallback = ports.target(withPort);
    const onChannelPort = ports.upgraded(fallback, withPort);
    expect(onChannelPort).to.equal(false);
    expect(ports.carrying(onChannelPort)).to.equal(false);
    expect(ports.wantsProbe(withPort)).to.equal(true);
    ports.probe();
    const probe = ports.target(withPort);
    expect(probe.port).to.equal(4568);
    expect(ports.carrying(ports.upgraded(probe, withPort)), 'moved back').to.equal(true);
    expect(ports.wantsProbe(withPort)).to.equal(false);
  });

  it('a peer without a channel port is where it should be on its API port: no probe', () => {
    const ports = new PortPolicy();
    const t = ports.target(apiOnly);
    expect(ports.carrying(ports.upgraded(t, apiOnly))).to.equal(false);
    expect(ports.wantsProbe(apiOnly)).to.equal(false);
  });

  it('a failed probe leaves the channel on the API port and the next renewal dials the API port', () => {
    const ports = new PortPolicy();
    ports.failed(ports.target(withPort));
    ports.carrying(ports.upgraded(ports.target(withPort), withPort));
    ports.probe();
    const probe = ports.target(withPort);
    expect(ports.failed(probe), 'logged once per run of failures').to.equal(true);
    expect(ports.wantsProbe(withPort), 'still on the API port').to.equal(true);
    expect(ports.target(withPort).port).to.equal(4567);
  });
});
