// The simulation's results as the bench prints them, with the growth law fitted over the sizes.
import { fmt, renderTable } from '../stats.js';
import { growthExponent, type SimResult } from './simulate.js';

const secs = (s: number | null, interval: number): string => (s === null ? 'not in bound' : `${fmt(s, 0)} (${fmt(s / interval, 1)})`);

export function simulationTable(results: SimResult[]): string {
  const rows = results.map((r) => [
    String(r.nodes),
    fmt(r.effectiveInterval, 1),
    secs(r.coldSeconds, r.interval),
    fmt(r.coldMessagesPerNode, 0),
    fmt(r.steadyMessagesPerNodeMinute, 0),
    fmt(r.steadyKbPerNodeMinute, 0),
    String(r.steadyRemovals),
    `${r.churned}: ${secs(r.joinedSeconds, r.effectiveInterval)} / ${secs(r.groomedSeconds, r.effectiveInterval)}`,
    fmt(r.cpuSeconds, 1),
  ]);
  const law = (f: (r: SimResult) => number): string => {
    const b = growthExponent(results.map((r) => ({ n: r.nodes, y: f(r) })));
    return b === null ? 'n/a' : `N^${fmt(b, 2)}`;
  };
  return (
    renderTable([
      ['nodes', 'interval (s)', 'cold start: s (configured intervals)', 'cold msgs/node', 'steady msgs/node/min', 'steady KB/node/min', 'steady removals', 'churn 10%: joined / groomed, s (intervals)', 'sim CPU s'],
      ...rows,
    ]) +
    `\nper node, steady: messages/min grow as ${law((r) => r.steadyMessagesPerNodeMinute)}, KB/min as ${law((r) => r.steadyKbPerNodeMinute)}; cold-start messages/node as ${law((r) => r.coldMessagesPerNode)}`
  );
}
