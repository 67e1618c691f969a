// Every subcommand of the built CLI answers --help with its usage on stdout and exit 0, as a new
// user tries it (`tunmesh status --help` used to answer "unknown option", exit 2).
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

function tunmesh(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

describe('tunmesh <subcommand> --help (the built CLI)', function () {
  this.timeout(60_000);
  const cases: Array<[string[], RegExp]> = [
    [['run', '--help'], /tunmesh run \[--config FILE\]/],
    [['status', '--help'], /tunmesh status \[--json\] \[--socket PATH\]/],
    [['status', '-h'], /tunmesh status/],
    [['config', 'check', '--help'], /tunmesh config check/],
    [['config', 'example', '--help'], /tunmesh config example/],
    [['certs', 'ca', 'create', '--help'], /tunmesh certs ca create/],
    [['certs', 'node', 'issue', '--help'], /tunmesh certs node issue/],
    [['certs', 'show', '--help'], /tunmesh certs show/],
  ];
  for (const [args, usage] of cases) {
    it(`tunmesh ${args.join(' ')}`, async () => {
      const r = await tunmesh(args);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(usage);
      expect(r.stderr).to.equal('');
    });
  }
});
