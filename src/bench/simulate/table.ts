// The simulation's results as the bench prints them, with the growth laws fitted over the sizes.
import { fmt, renderTable } from '../stats.js';
import { growthExponent, type SimResult } from './simulate.js';

const secs = (s: number | null, interval: number): string => (s === null ? 'not in bound' : `${fmt(s, 0)} (${fmt(s / interval, 1)})`);

const HEADER = [
  'nodes',
  'interval (s)',
  'cold start: s (configured intervals)',
  'cold msgs / KB per node',
  'steady msgs/node/min',
  'steady KB/node/min',
  'steady removals',
  'churn 10%: joined / groomed, s (intervals)',
  'churn msgs / KB per node',
  'sim CPU s',
];

function row(r: SimResult): string[] {
  return [
    String(r.nodes),
    fmt(r.effectiveInterval, 1),
    secs(r.coldSeconds, r.interval),
    `${fmt(r.coldMessagesPerNode, 0)} / ${fmt(r.coldKbPerNode, 0)}`,
    fmt(r.steadyMessagesPerNodeMinute, 0),
    fmt(r.steadyKbPerNodeMinute, 0),
    String(r.steadyRemovals),
    `${r.churned}: ${secs(r.joinedSeconds, r.effectiveInterval)} / ${secs(r.groomedSeconds, r.effectiveInterval)}`,
    `${fmt(r.churnMessagesPerNode, 0)} / ${fmt(r.churnKbPerNode, 0)}`,
    fmt(r.cpuSeconds, 1),
  ];
}

/** "N^b" of y over the results (log-log least squares), "n/a" with fewer than two usable sizes. */
export function law(results: SimResult[], y: (r: SimResult) => number | null): string {
  const b = growthExponent(results.map((r) => ({ n: r.nodes, y: y(r) ?? 0 })));
  return b === null ? 'n/a' : `N^${fmt(b, 2)}`;
}

/** What the counted work would cost a real node (product-costs.ts), steady and during the churn. */
function realCpu(r: SimResult): string {
  const churnUrlMs = (r.churnUrlParsesPerNode * r.urlParseNs) / 1e6;
  return (
    `${r.nodes} nodes, a real node's CPU: tokens ${fmt(r.steadyTokenCpuMsPerNodeMinute, 0)} ms/min steady (${fmt(r.tokenUs, 0)} us per token signed + verified), ` +
    `URL comparisons ${fmt(r.steadyUrlCpuMsPerNodeMinute, 1)} ms/min steady and ${fmt(churnUrlMs, 0)} ms over the churn (${fmt(r.churnUrlParsesPerNode, 0)} parses of ${fmt(r.urlParseNs, 0)} ns)`
  );
}

export function simulationTable(results: SimResult[]): string {
  const lines = [
    `per node, steady: messages/min grow as ${law(results, (r) => r.steadyMessagesPerNodeMinute)}, KB/min as ${law(results, (r) => r.steadyKbPerNodeMinute)}`,
    `per node, cold start: messages as ${law(results, (r) => r.coldMessagesPerNode)}, KB as ${law(results, (r) => r.coldKbPerNode)}; churn: messages as ${law(results, (r) => r.churnMessagesPerNode)}, KB as ${law(results, (r) => r.churnKbPerNode)}`,
    `convergence: cold start s as ${law(results, (r) => r.coldSeconds)}; after churn s as ${law(results, (r) => r.churnSeconds)}, in intervals as ${law(results, (r) => r.churnRounds)}`,
    ...results.map(realCpu),
  ];
  return renderTable([HEADER, ...results.map(row)]) + '\n' + lines.join('\n');
}
