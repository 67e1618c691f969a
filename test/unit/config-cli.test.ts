import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runConfigCommand } from '../../src/cli/config-command.js';
import { exampleConfigYaml } from '../../src/config/example.js';
import { BAD_CONFIGS, FIXTURE_DIR, makeTlsDir, materialize, type TlsDir } from '../fixtures/configs/fixtures.js';

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const RUNNER = join(FIXTURE_DIR, '..', 'run-config-check.ts');

/** Runs `tunmesh config ...` in a real node process, through runConfigCommand. */
function runProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', RUNNER, ...args], { env: { PATH: process.env['PATH'], ...env } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      });
  });
}

/** Runs runConfigCommand in this process, capturing its output. */
function runInProcess(args: string[], env: NodeJS.ProcessEnv = {}): RunResult {
  let stdout = '';
  let stderr = '';
  const code = runConfigCommand(args, { stdout: (s) => { stdout += s; }, stderr: (s) => { stderr += s; } }, env);
  return { code, stdout, stderr };
}

describe('tunmesh config command', () => {
  let tls: TlsDir;
  before(() => { tls = makeTlsDir(); });

  describe('check, run as a real process', () => {
    const results = new Map<string, RunResult>();
    before(async function () {
      this.timeout(120000);
      const files = BAD_CONFIGS.map((b) => b.file);
      const runs = await Promise.all(files.map((f) => runProcess(['check', materialize(f, tls)])));
      files.forEach((f, i) => results.set(f, runs[i]!));
    });

    for (const bad of BAD_CONFIGS) {
      it(`exits 2 on ${bad.file}, naming ${bad.names} without a stack trace`, () => {
        const r = results.get(bad.file)!;
        expect(r.code, r.stderr).to.equal(2);
        expect(r.stdout).to.equal('');
        expect(r.stderr).to.contain(bad.names);
        expect(r.stderr).to.match(bad.says);
        expect(r.stderr).to.not.contain('    at ');
        expect(r.stderr).to.not.match(/ConfigError|Error:/);
      });
    }

    it('exits 0 and prints "ok: FILE" with a summary for the reference config', async () => {
      const path = materialize('reference-v0.7.yaml', tls);
      const r = await runProcess(['check', path]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout.split('\n')[0]).to.equal(`ok: ${path}`);
      expect(r.stdout).to.contain('https://198.18.1.1:4567').and.contain('198.19.1.1/24').and.contain('default (1 url)');
      expect(r.stderr).to.equal('');
    });

    it('applies environment overrides and reads TUNMESH_CONFIG_PATH when no FILE is given', async () => {
      const r = await runProcess(['check'], {
        TUNMESH_CONFIG_PATH: 'config/example.yaml', TUNMESH_SSL_CERT_FILE: tls.cert, TUNMESH_SSL_KEY_FILE: tls.key,
      });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^ok: config\/example\.yaml\n/);
      expect(r.stderr, 'the example secret is flagged').to.match(/warning: tun_mesh\/clustering\/auth\/secret is still the example placeholder/);
    });

    it('prints the example config that ships in config/example.yaml', async () => {
      const r = await runProcess(['example']);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.equal(readFileSync('config/example.yaml', 'utf8'));
    });
  });

  describe('usage', () => {
    for (const args of [[], ['frobnicate'], ['check', 'a.yaml', 'b.yaml'], ['example', 'extra']]) {
      it(`exits 2 with usage for ${JSON.stringify(args)}`, () => {
        const r = runInProcess(args);
        expect(r.code).to.equal(2);
        expect(r.stderr).to.match(/^tunmesh config: .*\nusage: tunmesh config check/);
        expect(r.stdout).to.equal('');
      });
    }

    it('accepts the words after "tunmesh", with the leading "config"', () => {
      const r = runInProcess(['config', 'example']);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.equal(exampleConfigYaml());
    });

    it('prints usage on --help and exits 0', () => {
      const r = runInProcess(['--help']);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.match(/^usage: tunmesh config check \[FILE\]/);
    });

    it('checks the default path when neither FILE nor TUNMESH_CONFIG_PATH is given', () => {
      const r = runInProcess(['check']);
      expect(r.stdout + r.stderr).to.contain('/etc/tunmesh/config.yaml');
    });
  });
});
