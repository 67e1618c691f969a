import { expect } from 'chai';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ConfigError } from '../../src/config/errors.js';
import { exampleConfigYaml } from '../../src/config/example.js';
import { configFromObject, loadConfig } from '../../src/config/load.js';
import type { TunmeshConfig } from '../../src/config/types.js';
import { BAD_CONFIGS, makeTlsDir, materialize, type TlsDir } from '../fixtures/configs/fixtures.js';

const SECRET = '0123456789abcdef0123456789abcdef';

function expectConfigError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  expect.fail('expected a ConfigError');
}

/** A minimal valid config as a plain object, for tests that build configs in code. */
function minimal(tls: TlsDir): Record<string, unknown> {
  return {
    tun_mesh: {
      config_version: 1.1,
      clustering: {
        control_api_advertise_url: 'https://198.18.1.1:4567',
        auth: { secret: SECRET },
        bootstrap_groups: { default: { bootstrap_node_urls: null } },
      },
      control_api: { ssl: { cert_file_path: tls.cert, key_file_path: tls.key } },
      networking: { ipv4: { network_cidr: '198.19.0.0/16', node_address_cidr: '198.19.1.1/24' } },
      process: { uid: 1000 },
    },
  };
}

describe('config loading', () => {
  let tls: TlsDir;
  before(() => { tls = makeTlsDir(); });

  describe('an original v0.7 config', () => {
    let config: TunmeshConfig;
    before(() => { config = loadConfig(materialize('reference-v0.7.yaml', tls), {}); });

    it('loads unchanged, with every value the file states', () => {
      expect(config.clustering.controlApiAdvertiseUrl).to.equal('https://198.18.1.1:4567');
      expect(config.clustering.auth).to.deep.include({ secret: SECRET, pubKeySize: 2048 });
      expect(config.clustering.bootstrapGroups).to.deep.equal({ default: { bootstrapNodeUrls: ['https://198.18.1.2:4567'], bootstrapRetries: -1 } });
      expect(config.controlApi).to.deep.equal({
        listenPort: 4567, listenAddress: '', maxBatchSize: 64,
        ssl: { certFilePath: tls.cert, keyFilePath: tls.key, caFilePath: null, verifyHostname: false },
      });
      expect(config.networking.ipv4).to.deep.equal({ networkCidr: '198.19.1.0/24', nodeAddressCidr: '198.19.1.1/24', enableBroadcast: false, allocationSeed: null });
      expect(config.process.uid).to.equal(1000);
      expect(config.monitoring).to.deep.equal({ method: 'none', enableNodePacketMetrics: false, prometheus: { baseLabels: {} } });
    });

    it('has the original timing values in seconds', () => {
      expect(config.process.timing).to.deep.equal({
        requestTimeout: 1,
        auth: { sessionMaxAge: 3600, earlyValidityWindow: 5, validityWindow: 30 },
        registrations: {
          groomInterval: 5, startupGrace: 0, bootstrapRetryInterval: 15,
          local: { reregistrationInterval: 5, staleThreshold: 30 },
          mesh: { reregistrationInterval: 30, staleThreshold: 120 },
        },
        network: { local: { packetExpiration: 0.1 }, mesh: { packetExpiration: 0.1 } },
      });
    });

    it('gets the tunmesh extension defaults, as the original would behave', () => {
      expect(config.logging).to.deep.equal({ level: 'info', format: 'auto' });
      expect(config.networking.mtu).to.equal(1500);
      expect(config.process.gid).to.equal(1000);
      expect(config.process.workers).to.be.at.least(1);
      expect(config.dataPlane).to.deep.equal({ fastPath: true, queueLimit: 1024, offload: 'auto', channelPort: 4568, channelIdleTimeout: 120 });
      expect(config.clustering.auth).to.deep.include({ legacyPkcs1Interop: false, sessionOverlap: 30, maxClockSkew: 5 });
      expect(config.health.firstNode).to.equal(false);
      expect(config.controlPlane).to.deep.equal({ keepaliveRate: 1 });
      expect(config.statusSocket).to.equal('/run/tunmesh/status.sock');
    });
  });

  it('fills every optional key of the original with its default when left out', () => {
    const config = configFromObject(minimal(tls));
    const reference = loadConfig(materialize('reference-v0.7.yaml', tls), {});
    expect(config.process.timing).to.deep.equal(reference.process.timing);
    expect(config.controlApi.listenPort).to.equal(4567);
    expect(config.controlApi.maxBatchSize).to.equal(64);
    expect(config.networking.tunDeviceId).to.equal('tun1');
    // The original's default for bootstrap_retries is -1 (retry forever).
    expect(config.clustering.bootstrapGroups).to.deep.equal({ default: { bootstrapNodeUrls: [], bootstrapRetries: -1 } });
  });

  it('reads the tunmesh extension block', () => {
    const obj = minimal(tls);
    obj['tunmesh'] = {
      logging: { format: 'json' }, process: { gid: 2000, workers: 3 }, networking: { mtu: 1400 },
      data_plane: { fast_path: false, queue_limit: 64, offload: 'off', channel_port: 5000 },
      auth: { legacy_pkcs1_interop: true, session_overlap: '1m', max_clock_skew: 2 },
      health: { first_node: true }, control_plane: { keepalive_rate: 0 }, status_socket: '',
    };
    const config = configFromObject(obj);
    expect(config.logging.format).to.equal('json');
    expect(config.process).to.deep.include({ gid: 2000, workers: 3 });
    expect(config.networking.mtu).to.equal(1400);
    expect(config.dataPlane).to.deep.equal({ fastPath: false, queueLimit: 64, offload: 'off', channelPort: 5000, channelIdleTimeout: 120 });
    expect(config.clustering.auth).to.deep.include({ legacyPkcs1Interop: true, sessionOverlap: 60, maxClockSkew: 2 });
    expect(config.health.firstNode).to.equal(true);
    expect(config.controlPlane.keepaliveRate).to.equal(0);
    expect(config.statusSocket, 'an empty path disables the socket').to.equal(null);
  });

  it('draws a timing range once per load, inside the range', () => {
    const obj = minimal(tls);
    (obj['tun_mesh'] as Record<string, unknown>)['process'] = { uid: 1000, timing: { registrations: { mesh: { reregistration_interval: '10..20s' } } } };
    const values = Array.from({ length: 10 }, () => configFromObject(obj).process.timing.registrations.mesh.reregistrationInterval);
    for (const v of values) expect(v).to.be.within(10, 20);
    expect(configFromObject(obj, {}, { random: () => 0.25 }).process.timing.registrations.mesh.reregistrationInterval).to.equal(12.5);
  });

  it('accepts timing strings with units in a file', () => {
    const path = join(tls.dir, 'units.yaml');
    const text = readFileSync(materialize('reference-v0.7.yaml', tls), 'utf8')
      .replace('session_max_age: 3600', 'session_max_age: "1h"').replace('groom_interval: 5.0', 'groom_interval: "5s"')
      .replace('request_timeout: 1.0', 'request_timeout: "2s"')
      // The original's metric_ttl is not kept, but a unit on it must still load.
      .replace('metric_ttl: 3600', 'metric_ttl: "30m"');
    writeFileSync(path, text);
    const config = loadConfig(path, {});
    expect(config.process.timing.auth.sessionMaxAge).to.equal(3600);
    expect(config.process.timing.registrations.groomInterval).to.equal(5);
    expect(config.process.timing.requestTimeout).to.equal(2);
  });

  describe('environment overrides', () => {
    it('win over the file for the documented variables', () => {
      const env = {
        TUNMESH_AUTH_SECRET: 'ffffffffffffffffffffffffffffffffffff',
        TUNMESH_LOG_LEVEL: 'debug',
        TUNMESH_LISTEN_PORT: '5000',
        TUNMESH_ADVERTISE_URL: 'https://198.18.7.9:5000',
        TUNMESH_NETWORK_CIDR: '198.19.0.0/16',
        TUNMESH_NODE_ADDRESS_CIDR: '198.19.2.3/24',
        TUNMESH_BOOTSTRAP_URLS: 'https://198.18.7.1:5000, https://198.18.7.2:5000',
        TUNMESH_UID: '4242',
        TUNMESH_MTU: '1380',
        TUNMESH_FAST_PATH: 'false',
        TUNMESH_ENABLE_BROADCAST: 'true',
      };
      const config = loadConfig(materialize('reference-v0.7.yaml', tls), env);
      expect(config.clustering.auth.secret).to.equal(env.TUNMESH_AUTH_SECRET);
      expect(config.logging.level).to.equal('debug');
      expect(config.controlApi.listenPort).to.equal(5000);
      expect(config.clustering.controlApiAdvertiseUrl).to.equal('https://198.18.7.9:5000');
      expect(config.networking.ipv4).to.deep.equal({ networkCidr: '198.19.0.0/16', nodeAddressCidr: '198.19.2.3/24', enableBroadcast: true, allocationSeed: null });
      expect(config.clustering.bootstrapGroups['default']).to.deep.equal({
        bootstrapNodeUrls: ['https://198.18.7.1:5000', 'https://198.18.7.2:5000'], bootstrapRetries: -1,
      });
      expect(config.process.uid).to.equal(4242);
      expect(config.process.gid, 'gid follows the overridden uid').to.equal(4242);
      expect(config.networking.mtu).to.equal(1380);
      expect(config.dataPlane.fastPath).to.equal(false);
    });

    it('can supply required keys the file leaves out', () => {
      const obj = minimal(tls);
      const tm = obj['tun_mesh'] as Record<string, Record<string, unknown>>;
      delete tm['clustering']!['bootstrap_groups'];
      delete (tm['clustering']!['auth'] as Record<string, unknown>)['secret'];
      const config = configFromObject(obj, { TUNMESH_AUTH_SECRET: SECRET, TUNMESH_BOOTSTRAP_URLS: '' });
      expect(config.clustering.auth.secret).to.equal(SECRET);
      expect(config.clustering.bootstrapGroups).to.deep.equal({ default: { bootstrapNodeUrls: [], bootstrapRetries: -1 } });
    });

    it('are validated like file values, and a bad secret from the environment is never echoed', () => {
      const err = expectConfigError(() => configFromObject(minimal(tls), { TUNMESH_AUTH_SECRET: 'tiny-secret', TUNMESH_LISTEN_PORT: 'eighty' }));
      expect(err.message).to.contain('tun_mesh/clustering/auth/secret').and.not.contain('tiny-secret');
      expect(err.message).to.match(/tun_mesh\/control_api\/listen_port: must be an integer in 1\.\.65535, got "eighty"/);
    });

    it('are not read from process.env by configFromObject unless passed', () => {
      process.env['TUNMESH_LOG_LEVEL'] = 'debug';
      try {
        expect(configFromObject(minimal(tls)).logging.level).to.equal('info');
      } finally {
        delete process.env['TUNMESH_LOG_LEVEL'];
      }
    });
  });

  describe('bad configs', () => {
    for (const bad of BAD_CONFIGS) {
      it(`rejects ${bad.file}, naming ${bad.names}`, () => {
        const err = expectConfigError(() => loadConfig(materialize(bad.file, tls), {}));
        const line = err.message.split('\n').find((l) => l.includes(bad.names));
        expect(line, `no line names ${bad.names} in:\n${err.message}`).to.be.a('string');
        expect(line).to.match(bad.says);
      });
    }

    it('reports exactly one problem for a config with one defect', () => {
      for (const bad of BAD_CONFIGS) {
        const err = expectConfigError(() => loadConfig(materialize(bad.file, tls), {}));
        expect(err.problems, `${bad.file}: ${err.message}`).to.have.length(1);
      }
    });

    it('lists every problem of a config in one error', () => {
      const obj = minimal(tls);
      const tm = obj['tun_mesh'] as Record<string, Record<string, unknown>>;
      tm['control_api'] = { max_batch_size: 4096, ssl: { cert_file_path: tls.cert, key_file_path: tls.key } };
      tm['logging'] = { level: 'loud', colour: true };
      tm['process'] = { uid: -5 };
      const err = expectConfigError(() => configFromObject(obj));
      expect(err.problems.map((p) => p.path)).to.have.members([
        'tun_mesh/control_api/max_batch_size', 'tun_mesh/logging/level', 'tun_mesh/logging/colour', 'tun_mesh/process/uid',
      ]);
      expect(err.message).to.match(/\(4 problems\)/);
    });

    it('never shows the secret, whatever is wrong with it', () => {
      const obj = minimal(tls);
      const auth = (obj['tun_mesh'] as Record<string, Record<string, Record<string, unknown>>>)['clustering']!['auth']!;
      auth['secret'] = 'p@ssw0rd-p@ssw0rd';
      expect(expectConfigError(() => configFromObject(obj)).message).to.contain('<redacted, 17 characters>').and.not.contain('p@ssw0rd');
      auth['secret'] = 12345;
      expect(expectConfigError(() => configFromObject(obj)).message).to.not.contain('12345');
    });

    it('reports a mapping where a value belongs, and a value where a section belongs, at that key', () => {
      const obj = minimal(tls);
      const tm = obj['tun_mesh'] as Record<string, unknown>;
      tm['logging'] = 'info';
      (tm['clustering'] as Record<string, unknown>)['control_api_advertise_url'] = { url: 'https://x' };
      const err = expectConfigError(() => configFromObject(obj));
      expect(err.message).to.match(/tun_mesh\/logging: must be a mapping of level, got "info"/);
      expect(err.message).to.match(/tun_mesh\/clustering\/control_api_advertise_url: must be a single value, not a mapping/);
      expect(err.problems, 'the dropped advertise URL is not also reported as missing').to.have.length(2);
    });

    it('reports a missing tun_mesh key once, not once per required key below it', () => {
      const err = expectConfigError(() => configFromObject({ tunmesh: {} }));
      expect(err.problems).to.deep.equal([{ path: 'tun_mesh', message: 'is required: the top-level key of a Tun Mesh config' }]);
    });

    it('rejects a document that is not a mapping, and a missing or unreadable file, naming the file', () => {
      expect(expectConfigError(() => configFromObject(['a'])).message).to.match(/expected a YAML mapping/);
      expect(expectConfigError(() => loadConfig(join(tls.dir, 'nope.yaml'), {})).message)
        .to.equal(`invalid config ${join(tls.dir, 'nope.yaml')}: cannot read the config file: file not found`);
      expect(expectConfigError(() => loadConfig(tls.dir, {})).message).to.match(/is a directory/);
      const scalar = join(tls.dir, 'scalar.yaml');
      writeFileSync(scalar, 'just a string\n');
      expect(expectConfigError(() => loadConfig(scalar, {})).message).to.match(/scalar\.yaml.*expected a YAML mapping.*"just a string"/);
    });

    it('names an unreadable key file', () => {
      const path = materialize('reference-v0.7.yaml', tls);
      if (process.getuid?.() !== 0) {
        chmodSync(tls.key, 0o000);
        try {
          const err = expectConfigError(() => loadConfig(path, {}));
          expect(err.message).to.contain(`tun_mesh/control_api/ssl/key_file_path: file ${tls.key} is not readable`);
        } finally {
          chmodSync(tls.key, 0o600);
        }
        return;
      }
      // Root reads any file: check as an unprivileged user instead (key 0600 root, the rest readable).
      chmodSync(tls.dir, 0o755);
      chmodSync(path, 0o644);
      chmodSync(tls.cert, 0o644);
      const r = spawnSync(
        'setpriv',
        ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, '--import', 'tsx', 'test/fixtures/run-config-check.ts', 'check', path],
        { encoding: 'utf8', timeout: 30_000 },
      );
      expect(r.status, r.stderr).to.equal(2);
      expect(r.stderr).to.contain(`tun_mesh/control_api/ssl/key_file_path: file ${tls.key} is not readable`);
    });

    it('rejects bad base_labels and bootstrap URLs entry by entry', () => {
      const obj = minimal(tls);
      const tm = obj['tun_mesh'] as Record<string, Record<string, unknown>>;
      tm['monitoring'] = { prometheus: { base_labels: { 'bad-name': 'x', ok: 'y', nested: { a: 1 } } } };
      tm['clustering']!['bootstrap_groups'] = { a: { bootstrap_node_urls: ['https://ok:1', 'ftp://no'] }, b: 'nope' };
      const paths = expectConfigError(() => configFromObject(obj)).problems.map((p) => p.path);
      expect(paths).to.have.members([
        'tun_mesh/monitoring/prometheus/base_labels/bad-name', 'tun_mesh/monitoring/prometheus/base_labels/nested',
        'tun_mesh/clustering/bootstrap_groups/a/bootstrap_node_urls/1', 'tun_mesh/clustering/bootstrap_groups/b',
      ]);
    });

    it('rejects an unknown key inside the tunmesh extension block', () => {
      const obj = minimal(tls);
      obj['tunmesh'] = { data_plane: { fastpath: false } };
      expect(expectConfigError(() => configFromObject(obj)).message).to.match(/tunmesh\/data_plane\/fastpath: unknown key \(allowed here: fast_path, queue_limit, offload, channel_port, channel_idle_timeout\)/);
    });

    it('takes a channel port (default 4568, 0 = off, env TUNMESH_CHANNEL_PORT) and refuses the API port for it', () => {
      expect(configFromObject(minimal(tls)).dataPlane.channelPort).to.equal(4568);
      expect(configFromObject({ ...minimal(tls), tunmesh: { data_plane: { channel_port: 0 } } }).dataPlane.channelPort).to.equal(0);
      expect(configFromObject(minimal(tls), { TUNMESH_CHANNEL_PORT: '9999' }).dataPlane.channelPort).to.equal(9999);
      const listenPort = configFromObject(minimal(tls)).controlApi.listenPort;
      const err = expectConfigError(() => configFromObject({ ...minimal(tls), tunmesh: { data_plane: { channel_port: listenPort } } }));
      expect(err.message).to.match(new RegExp(`tunmesh/data_plane/channel_port: must differ from tun_mesh/control_api/listen_port \\(${listenPort}\\)`));
      expect(expectConfigError(() => configFromObject({ ...minimal(tls), tunmesh: { data_plane: { channel_port: 70000 } } })).message).to.match(/tunmesh\/data_plane\/channel_port: must be an integer in 0\.\.65535/);
    });
  });

  describe('keepalive_rate (tunmesh block)', () => {
    const withRate = (rate: unknown): Record<string, unknown> => ({ ...minimal(tls), tunmesh: { control_plane: { keepalive_rate: rate } } });

    it('takes a fraction, from the file or TUNMESH_KEEPALIVE_RATE', () => {
      expect(configFromObject(withRate(0.25)).controlPlane.keepaliveRate).to.equal(0.25);
      expect(configFromObject(minimal(tls), { TUNMESH_KEEPALIVE_RATE: '0.5' }).controlPlane.keepaliveRate).to.equal(0.5);
      expect(configFromObject(minimal(tls), { TUNMESH_KEEPALIVE_RATE: '2' }).controlPlane.keepaliveRate).to.equal(2);
    });

    it('refuses a negative rate, a word and a rate past 1000, naming the key', () => {
      for (const bad of [-1, 'fast', 1001]) {
        expect(expectConfigError(() => configFromObject(withRate(bad))).message).to.match(/tunmesh\/control_plane\/keepalive_rate: must be a number in 0\.\.1000/);
      }
      expect(expectConfigError(() => configFromObject(minimal(tls), { TUNMESH_KEEPALIVE_RATE: '1,5' })).message).to.match(/tunmesh\/control_plane\/keepalive_rate: must be a number in 0\.\.1000/);
    });
  });

  describe('the IPv6 overlay and the listen address (tunmesh block)', () => {
    const withIpv6 = (t: TlsDir, tunmesh: Record<string, unknown>): Record<string, unknown> => ({ ...minimal(t), tunmesh });

    it('is off by default: IPv4 only, listening on every address', () => {
      const config = configFromObject(minimal(tls));
      expect(config.networking.ipv6).to.equal(null);
      expect(config.controlApi.listenAddress).to.equal('');
    });

    it('loads an IPv6 address and network, from the file or the environment', () => {
      const fromFile = configFromObject(withIpv6(tls, {
        networking: { ipv6: { network_cidr: '2001:2:0:100::/56', node_address_cidr: '2001:2:0:100::1/64' } },
        control_api: { listen_address: '2001:2::a' },
      }));
      expect(fromFile.networking.ipv6).to.deep.equal({ networkCidr: '2001:2:0:100::/56', nodeAddressCidr: '2001:2:0:100::1/64', derived: false });
      expect(fromFile.controlApi.listenAddress).to.equal('2001:2::a');
      const fromEnv = configFromObject(minimal(tls), {
        TUNMESH_IPV6_NETWORK_CIDR: '2001:2:0:100::/56', TUNMESH_IPV6_NODE_ADDRESS_CIDR: '2001:2:0:100::7/64', TUNMESH_LISTEN_ADDRESS: '198.18.1.1',
      });
      expect(fromEnv.networking.ipv6?.nodeAddressCidr).to.equal('2001:2:0:100::7/64');
      expect(fromEnv.controlApi.listenAddress).to.equal('198.18.1.1');
    });

    it('explains bad IPv6 values by key path', () => {
      const cases: Array<[Record<string, unknown>, string, RegExp]> = [
        [{ network_cidr: '2001:2:0:100::/56', node_address_cidr: '2001:2:0:100::1/129' }, 'node_address_cidr', /bad prefix length \/129/],
        [{ network_cidr: '2001:2:0:100::/56', node_address_cidr: '2001:2:0:100::1' }, 'node_address_cidr', /the \/prefix is missing/],
        [{ network_cidr: '2001:2::zz/56', node_address_cidr: '2001:2:0:100::1/64' }, 'network_cidr', /"2001:2::zz" is not an IPv6 address/],
        [{ network_cidr: '2001:2:0:100::/56', node_address_cidr: '2001:2:1::1/64' }, 'node_address_cidr', /inside tunmesh\/networking\/ipv6\/network_cidr/],
        [{ network_cidr: 'fe80::/10', node_address_cidr: 'fe80::1/64' }, 'node_address_cidr', /link-local/],
        [{ network_cidr: '2001:2:0:100::/56' }, 'node_address_cidr', /required when tunmesh\/networking\/ipv6\/network_cidr is set/],
      ];
      for (const [ipv6, key, says] of cases) {
        const err = expectConfigError(() => configFromObject(withIpv6(tls, { networking: { ipv6 } })));
        const problem = err.problems.find((p) => p.path === `tunmesh/networking/ipv6/${key}`);
        expect(problem?.message, JSON.stringify(err.problems)).to.match(says);
      }
      const listen = expectConfigError(() => configFromObject(withIpv6(tls, { control_api: { listen_address: '[2001:2::a]' } })));
      expect(listen.problems[0]?.path).to.equal('tunmesh/control_api/listen_address');
    });
  });

  describe('the example config', () => {
    const env = (t: TlsDir) => ({ TUNMESH_SSL_CERT_FILE: t.cert, TUNMESH_SSL_KEY_FILE: t.key });

    it('ships as config/example.yaml, identical to the generator output', () => {
      expect(readFileSync('config/example.yaml', 'utf8')).to.equal(exampleConfigYaml());
    });

    it('loads, given real cert and key files', () => {
      const config = loadConfig('config/example.yaml', env(tls));
      expect(config.networking.ipv4.nodeAddressCidr).to.equal('198.19.1.1/24');
      expect(config.clustering.bootstrapGroups['default']?.bootstrapNodeUrls).to.deep.equal(['https://198.18.1.2:4567']);
    });

    it('still loads with its commented tunmesh block switched on, with the defaults it documents', () => {
      const uncommented = exampleConfigYaml().replace(/^# (tunmesh:| {2}.*)$/gm, '$1');
      expect(uncommented).to.match(/^tunmesh:$/m);
      const path = join(tls.dir, 'example-uncommented.yaml');
      writeFileSync(path, uncommented);
      const withBlock = loadConfig(path, env(tls));
      const without = loadConfig('config/example.yaml', env(tls));
      expect({ ...withBlock, source: '' }).to.deep.equal({ ...without, source: '' });
    });
  });
});
