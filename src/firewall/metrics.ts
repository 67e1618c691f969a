// Metrics of the firewall (firewall/, docs/security.md):
//   tunmesh_firewall_dropped_total{direction, rule}        packets dropped: by a drop rule (its
//       config path, tunmesh/firewall/inbound/2) or because no rule matched (rule="default")
//   tunmesh_firewall_allowed_flows_total{direction, rule}  new flows an allow rule let through
//       (replies and later packets pass by connection tracking and are not counted again)
//   tunmesh_firewall_conntrack_entries / _max   the kernel's connection table (the namespace's)
//   tunmesh_firewall_conntrack_evicted_total / _refused_total   flows evicted for room / refused
//       when the table was full (firewall/conntrack-stats.ts)
//   tunmesh_firewall_rules{hash}   rules in force, labelled with their hash: nodes whose hashes
//       differ run different rules (the alert in deploy/prometheus/alerts.yml)
// The kernel counts (nft counters); the node adds what changed since it last looked.
import { Counter, Gauge, type Registry } from 'prom-client';
import { conntrackStats, type ConntrackStats } from './conntrack-stats.js';

export type FirewallDirection = 'inbound' | 'outbound';

export class FirewallMetrics {
  private readonly dropped: Counter;
  private readonly allowed: Counter;
  private readonly rules: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    const labelNames = ['direction', 'rule'];
    this.dropped = new Counter({ name: 'tunmesh_firewall_dropped_total', help: 'Packets the firewall dropped, by direction and rule (default: no rule matched)', labelNames, registers });
    this.allowed = new Counter({ name: 'tunmesh_firewall_allowed_flows_total', help: 'New flows an allow rule let through, by direction and rule', labelNames, registers });
    this.rules = new Gauge({ name: 'tunmesh_firewall_rules', help: 'Firewall rules in force; hash identifies them (none: no firewall, all allowed)', labelNames: ['hash'], registers });
    this.inForce('none', 0);
    this.conntrack(registers);
  }

  /** Read at scrape time; absent until conntrack is in use in the namespace. */
  private conntrack(registers: Registry[]): void {
    const gauge = (name: string, help: string, pick: (s: ConntrackStats) => number): void =>
      void new Gauge({ name, help, registers, collect() { const s = conntrackStats(); if (s) this.set(pick(s)); } });
    // The kernel keeps the totals: each scrape copies them (reset + inc keeps the counter type).
    const total = (name: string, help: string, pick: (s: ConntrackStats) => number): void =>
      void new Counter({ name, help, registers, collect() { const s = conntrackStats(); if (s) { this.reset(); this.inc(pick(s)); } } });
    gauge('tunmesh_firewall_conntrack_entries', "Flows in the kernel's connection table (the whole network namespace)", (s) => s.entries);
    gauge('tunmesh_firewall_conntrack_max', "Size of the kernel's connection table (nf_conntrack_max)", (s) => s.max);
    total('tunmesh_firewall_conntrack_evicted_total', 'Flows the kernel evicted to make room in a full connection table (early_drop)', (s) => s.evicted);
    total('tunmesh_firewall_conntrack_refused_total', 'New flows the kernel refused with a full connection table', (s) => s.refused);
  }

  droppedBy(direction: FirewallDirection, rule: string, packets: number): void {
    if (packets > 0) this.dropped.labels(direction, rule).inc(packets);
  }

  allowedBy(direction: FirewallDirection, rule: string, flows: number): void {
    if (flows > 0) this.allowed.labels(direction, rule).inc(flows);
  }

  inForce(hash: string, count: number): void {
    this.rules.reset();
    this.rules.labels(hash).set(count);
  }
}
