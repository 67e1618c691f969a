/**
 * Configuration errors.
 *
 * A config is checked as a whole and every problem is collected, so an operator fixes a broken file in
 * one pass instead of one error per restart. Each problem names the key path the way the original
 * does (`tun_mesh/clustering/auth/secret`), says what was found (secrets redacted) and what is expected.
 */

/** One thing wrong with a config: where, and what. */
export interface ConfigProblem {
  /** Slash-separated key path, e.g. `tun_mesh/control_api/max_batch_size`; empty for the file itself. */
  readonly path: string;
  /** What is wrong and what is expected, including the offending value unless it is sensitive. */
  readonly message: string;
}

/** Thrown by the loader for any unusable config: unreadable file, bad YAML, bad keys or values. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];

  constructor(source: string, problems: readonly ConfigProblem[]) {
    super(ConfigError.describe(source, problems));
    this.problems = problems;
  }

  /** Builds an error for a single problem that concerns the file, not a key. */
  static forFile(source: string, message: string): ConfigError {
    return new ConfigError(source, [{ path: '', message }]);
  }

  private static describe(source: string, problems: readonly ConfigProblem[]): string {
    if (problems.length === 1 && problems[0] !== undefined && problems[0].path === '') {
      return `invalid config ${source}: ${problems[0].message}`;
    }
    const lines = problems.map((p) => `  - ${p.path === '' ? '' : `${p.path}: `}${p.message}`);
    const noun = problems.length === 1 ? 'problem' : 'problems';
    return `invalid config ${source} (${problems.length} ${noun}):\n${lines.join('\n')}`;
  }
}
