// Reading samples out of prom-client's JSON form (getMetricsAsJSON / aggregate), which types
// its values loosely: the one place that narrows it.
import type { Registry } from 'prom-client';

export type MetricFamily = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];
export interface Sample {
  value: number;
  labels: Record<string, string | number>;
}

export function samplesOf(families: readonly MetricFamily[], name: string): Sample[] {
  const family = families.find((m) => m.name === name) as { values?: Sample[] } | undefined;
  return family?.values ?? [];
}
