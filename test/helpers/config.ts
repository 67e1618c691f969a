// Config tests: the problems a ConfigError reports, as "path: message" lines.
import { expect } from 'chai';
import { ConfigError } from '../../src/config/errors.js';

export function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  return expect.fail('expected a ConfigError');
}
