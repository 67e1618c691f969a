// Reading one sample out of a Prometheus text scrape, for tests that watch counters move.

/** The value of the first `name{...label...}` sample, 0 when there is none. */
export function sampleValue(scrape: string, name: string, label: string): number {
  const m = new RegExp(`^${name}\\{[^}]*${label}[^}]*\\} (\\d+(?:\\.\\d+)?)`, 'm').exec(scrape);
  return m ? Number(m[1]) : 0;
}
