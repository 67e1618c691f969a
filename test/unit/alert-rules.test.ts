// The alert rules evaluated by promtool on synthetic series (deploy/prometheus/alerts.test.yml):
// the certificate-expiry alert fires for the kind that is under 14 days, and only after its hour.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PROMTOOL = '/usr/bin/promtool';
const TESTS = fileURLToPath(new URL('../../deploy/prometheus/alerts.test.yml', import.meta.url));

describe('alert rules (promtool test rules)', () => {
  it('TunmeshCertificateExpiringSoon fires under 14 days, per kind, after 1 h', function () {
    if (!existsSync(PROMTOOL)) this.skip();
    const r = spawnSync(PROMTOOL, ['test', 'rules', TESTS], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.include('SUCCESS');
  });
});
