// tunmesh.firewall: rules checked by path, selectors resolved to the peers' addresses (groups only
// from verified certificates), and the nftables script, parsed by the real nft in a namespace of
// its own (`nft -c`: checked, not applied).
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { problemsOf } from '../helpers/config.js';
import { configFromObject } from '../../src/config/load.js';
import type { FirewallConfig } from '../../src/config/types.js';
import { checkRuleset, parseCounters, renderRemoval, renderSets, renderTable, RulesetError } from '../../src/firewall/nft.js';
import { resolveRuleset, type FirewallPeer } from '../../src/firewall/resolve.js';
import { ruleCount, rulesHash } from '../../src/firewall/firewall.js';
import { makeTlsDir, type TlsDir } from '../fixtures/configs/fixtures.js';
import { uniquePrefix } from '../helpers/netns.js';

const SECRET = '0123456789abcdef0123456789abcdef';

function doc(tls: TlsDir, firewall: unknown): Record<string, unknown> {
  return {
    tun_mesh: {
      config_version: 1.1,
      clustering: { control_api_advertise_url: 'https://198.18.1.1:4567', auth: { secret: SECRET }, bootstrap_groups: { default: { bootstrap_node_urls: null } } },
      control_api: { ssl: { cert_file_path: tls.cert, key_file_path: tls.key } },
      networking: { ipv4: { network_cidr: '198.19.0.0/16', node_address_cidr: '198.19.0.1/24' } },
      process: { uid: 1000 },
    },
    tunmesh: { firewall },
  };
}

const PEERS: FirewallPeer[] = [
  { id: 'web-1', address4: '198.19.0.2', address6: '2001:2:0:100::2', groups: ['frontend', 'web'] },
  { id: 'web-2', address4: '198.19.0.3', address6: null, groups: ['web'] },
  { id: 'orig', address4: '198.19.0.9', address6: null, groups: null },
];

describe('firewall rules (tunmesh.firewall)', () => {
  let tls: TlsDir;
  before(() => { tls = makeTlsDir(); });

  it('is off when the block is absent, and a left-out direction allows all while [] denies all', () => {
    expect(configFromObject(doc(tls, undefined)).firewall).to.equal(null);
    const fw = configFromObject(doc(tls, { inbound: [] })).firewall;
    expect(fw?.inbound).to.deep.equal([]);
    expect(fw?.outbound).to.equal(null);
    expect(fw?.conntrack).to.deep.equal({ tcpTimeout: 720, udpTimeout: 180 });
  });

  it('reads every selector, port form and protocol', () => {
    const fw = configFromObject(doc(tls, {
      inbound: [
        { proto: 'tcp', port: 5432, group: 'web' },
        { proto: 'UDP', port: '8000-8100', groups: ['web', 'frontend', 'web'] },
        { proto: 'icmp', host: 'any' },
        { node: 'web-2', action: 'drop' },
        { cidr: '2001:2::/48', proto: 'icmpv6' },
      ],
      conntrack: { tcp_timeout: '5m', udp_timeout: 30 },
    })).firewall as FirewallConfig;
    expect(fw.inbound?.map((r) => [r.proto, r.ports, r.action, r.selector])).to.deep.equal([
      ['tcp', { from: 5432, to: 5432 }, 'allow', { kind: 'groups', groups: ['web'] }],
      ['udp', { from: 8000, to: 8100 }, 'allow', { kind: 'groups', groups: ['frontend', 'web'] }],
      ['icmp', null, 'allow', { kind: 'any' }],
      ['any', null, 'drop', { kind: 'node', id: 'web-2' }],
      ['icmpv6', null, 'allow', { kind: 'cidr', cidr: '2001:2::/48', family: 6 }],
    ]);
    expect(fw.inbound?.[3]?.path).to.equal('tunmesh/firewall/inbound/3');
    expect(fw.conntrack).to.deep.equal({ tcpTimeout: 300, udpTimeout: 30 });
  });

  it('names each bad rule by its path', () => {
    expect(problemsOf(() => configFromObject(doc(tls, {
      inbound: [{ proto: 'icmp', port: 22, host: 'any' }, { port: 70000, group: 'web' }, { proto: 'sctp', group: 'x' }, { group: 'Web' }, { cidr: '198.19.0.0/33' }, { host: 'all' }, { group: 'a', node: 'b' }, {}, 'tcp', { group: 'web', to: 'x' }],
      outbound: 'all',
    })))).to.deep.equal([
      'tunmesh/firewall/outbound: must be a list of rules, or left out to allow everything, got "all"',
      'tunmesh/firewall/inbound/0/port: icmp has no ports: use port: any (or leave it out)',
      'tunmesh/firewall/inbound/1/port: must be any, a port 1..65535 or a range like "8000-8100", got 70000',
      'tunmesh/firewall/inbound/2/proto: must be one of any, tcp, udp, icmp, icmpv6, got "sctp"',
      "tunmesh/firewall/inbound/3/group: group names are lowercase letters, digits, '.', '_' and '-' (as tunmesh certs node issue --group takes them), got \"Web\"",
      'tunmesh/firewall/inbound/4/cidr: must be a CIDR of mesh addresses like 198.19.0.0/24 or 2001:2:0:1::/64, got "198.19.0.0/33"',
      'tunmesh/firewall/inbound/5/host: must be any (name one node with node: <id>), got "all"',
      'tunmesh/firewall/inbound/6: names the peer 2 ways (group, node): give exactly one of host: any, group, groups, node, cidr',
      'tunmesh/firewall/inbound/7: names no peer: give exactly one of host: any, group, groups, node, cidr',
      'tunmesh/firewall/inbound/8: must be a rule like {proto: tcp, port: 5432, group: web}, got "tcp"',
      'tunmesh/firewall/inbound/9/to: unknown key (allowed here: proto, port, action, host, group, groups, node, cidr)',
    ]);
  });

  it('resolves groups (all of a list) and node ids to addresses; a peer without verified groups matches no group', () => {
    const fw = configFromObject(doc(tls, { inbound: [{ group: 'web' }, { groups: ['web', 'frontend'] }, { node: 'orig' }, { group: 'db' }] })).firewall as FirewallConfig;
    const rs = resolveRuleset('tun1', fw, PEERS);
    expect(rs.inbound?.map((r) => r.match)).to.deep.equal([
      { kind: 'set', v4: ['198.19.0.2', '198.19.0.3'], v6: ['2001:2:0:100::2'] },
      { kind: 'set', v4: ['198.19.0.2'], v6: ['2001:2:0:100::2'] },
      { kind: 'set', v4: ['198.19.0.9'], v6: [] },
      { kind: 'set', v4: [], v6: [] },
    ]);
  });

  it('hashes the rules, not the peers: the same rules give the same hash on every node', () => {
    const a = configFromObject(doc(tls, { inbound: [{ group: 'web' }] })).firewall;
    const b = configFromObject(doc(tls, { inbound: [{ group: 'web' }] })).firewall;
    const c = configFromObject(doc(tls, { inbound: [{ group: 'db' }] })).firewall;
    expect(rulesHash(a)).to.equal(rulesHash(b)).and.match(/^[0-9a-f]{12}$/);
    expect(rulesHash(c)).to.not.equal(rulesHash(a));
    expect(rulesHash(null)).to.equal('none');
    expect(ruleCount(a)).to.equal(1);
  });

  it('refuses to render anything but addresses, ports and known words (the keeper runs as root)', () => {
    const fw = configFromObject(doc(tls, { inbound: [{ group: 'web' }] })).firewall as FirewallConfig;
    const rs = resolveRuleset('tun1', fw, PEERS);
    const evil = (patch: (r: typeof rs) => void): (() => void) => () => {
      const copy = structuredClone(rs);
      patch(copy);
      checkRuleset(copy);
    };
    expect(evil((r) => { r.device = 'tun1" accept; flush ruleset; "'; })).to.throw(RulesetError, /device/);
    expect(evil((r) => { (r.inbound![0]!.match as { v4: string[] }).v4.push('1.2.3.4 }; flush ruleset'); })).to.throw(RulesetError, /address/);
    expect(evil((r) => { r.inbound![0]!.name = 'in_0 accept'; })).to.throw(RulesetError, /name/);
    expect(evil((r) => { r.tcpTimeout = 0.5; })).to.throw(RulesetError, /timeout/);
    expect(() => renderRemoval('a b')).to.throw(RulesetError);
  });

  it('parses nft counters', () => {
    const json = '{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"counter": {"family": "inet", "name": "in_0", "table": "tunmesh_tun1", "handle": 3, "packets": 7, "bytes": 420}}]}';
    expect([...parseCounters(json)]).to.deep.equal([['in_0', 7]]);
  });

  it('renders scripts the real nft accepts: the table, its sets alone, its removal', function () {
    if (spawnSync('nft', ['--version']).status !== 0) this.skip();
    const ns = `${uniquePrefix('tmfu')}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      const fw = configFromObject(doc(tls, {
        inbound: [{ proto: 'tcp', port: 5432, group: 'web' }, { proto: 'udp', port: '53-54', cidr: '198.19.0.0/24' }, { port: 80, host: 'any' }, { proto: 'icmpv6', cidr: '2001:2::/48', action: 'drop' }],
        outbound: [{ host: 'any' }],
      })).firewall as FirewallConfig;
      const rs = resolveRuleset('tun1', fw, PEERS);
      const nft = (script: string): void => void execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: script });
      nft(renderTable(rs));
      nft(renderTable(rs)); // replaces itself
      nft(renderSets(resolveRuleset('tun1', fw, PEERS.slice(1))));
      const listed = execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'set', 'inet', 'tunmesh_tun1', 'in_0_v4'], { encoding: 'utf8' });
      expect(listed).to.contain('198.19.0.3').and.not.contain('198.19.0.2');
      nft(renderRemoval('tun1'));
      expect(execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'tables'], { encoding: 'utf8' })).to.not.contain('tunmesh_tun1');
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });
});
