// Reading one sample out of a Prometheus text scrape, for tests that watch counters move.

/** The value of the first `name{...label...}` sample, 0 when there is none. */
export function sampleValue(scrape: string, name: string, label: string): number {
  const m = new RegExp(`^${name}\\{[^}]*${label}[^}]*\\} (\\d+(?:\\.\\d+)?)`, 'm').exec(scrape);
  return m ? Number(m[1]) : 0;
}

/**
 * The shape of every series in a scrape: `name{label,names,sorted}`, values and label values
 * left out, so two nodes' scrapes can be compared by what they export rather than by numbers.
 */
export function seriesShapes(scrape: string): Set<string> {
  const shapes = new Set<string>();
  for (const line of scrape.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (m === null) continue;
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)].map((l) => l[1]).sort();
    shapes.add(`${m[1]}{${labels.join(',')}}`);
  }
  return shapes;
}

/** The value of the first sample of `name` whatever its labels (base labels only, say), 0 when absent. */
export function counterValue(scrape: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)`, 'm').exec(scrape);
  return m ? Number(m[1]) : 0;
}
