// A long, dense ping (default every 10 ms) in the background, for tests that replace nodes under
// traffic: how many echoes were lost, and the longest run of them (the outage a swap caused).
import type { ChildProcess } from 'node:child_process';
import { ProcessOutput, killPid } from './netns.js';

export interface PingStreamOptions {
  /** Seconds between echoes (ping -i; below 0.2 needs root, which the lab is). */
  intervalS?: number;
  /** How long to ping (ping -w: it stops then, whatever is outstanding). */
  durationS: number;
  /** Seconds to wait for each reply (ping -W). */
  timeoutS?: number;
}

export interface PingStreamResult {
  transmitted: number;
  received: number;
  lost: number;
  /** RTT in ms over the received echoes (iputils' summary), null when none came back. */
  rtt: { min: number; avg: number; max: number; mdev: number } | null;
  /**
   * Longest run of consecutive unanswered icmp_seq, and the longest silence between two
   * consecutive replies (from ping -D timestamps; ping sends slower than -i asks on some
   * kernels, so packets times interval would understate an outage).
   */
  longestGap: { packets: number; seconds: number };
  /**
   * Echoes after the last reply. -w stops ping with the last one or two still in flight, so a
   * clean run ends with 1-2 here; `lost - trailingUnanswered` is the loss before the end.
   */
  trailingUnanswered: number;
  /** Unix seconds of the last echo reply (ping -D), null when none came back: when a cut-off happened. */
  lastReplyAt: number | null;
  /** ICMP errors ping counted ("+N errors"); with -w, ping stops at the first one. */
  errors: number;
  /** How long ping ran ("time N ms"). */
  elapsedMs: number;
  /** ping's exit code (1 when any echo was lost), or null if it had to be killed. */
  exitCode: number | null;
  /** The summary lines (the per-echo lines are dropped: tens of thousands of them). */
  summary: string;
}

export interface PingStream {
  /** Waits (bounded: duration + reply timeout + 10 s) for ping to finish, then parses it. */
  result(): Promise<PingStreamResult>;
  /** Ends it early (SIGINT: ping still prints its summary). */
  stop(): void;
}

/** ping arguments for a stream: -n (no DNS), -D (reply timestamps), -i, -W, -w. */
export function pingStreamArgs(address: string, o: PingStreamOptions): string[] {
  const intervalS = o.intervalS ?? 0.01;
  return ['-n', '-D', '-i', String(intervalS), '-W', String(o.timeoutS ?? 1), '-w', String(Math.ceil(o.durationS)), address];
}

/** Wraps a spawned `ping` (see pingStreamArgs) as a PingStream. */
export function pingStream(child: ChildProcess, o: PingStreamOptions): PingStream {
  const out = new ProcessOutput(child);
  const boundMs = (Math.ceil(o.durationS) + (o.timeoutS ?? 1) + 10) * 1000;
  let pending: Promise<PingStreamResult> | undefined;
  const finish = async (): Promise<PingStreamResult> => {
    const pid = child.pid as number;
    if (!(await out.waitForExit(boundMs).then(() => true, () => false))) {
      killPid(pid, 'SIGINT');
      if (!(await out.waitForExit(2000).then(() => true, () => false))) killPid(pid, 'SIGKILL');
    }
    return parsePingStream(out.stdout + out.stderr, out.exitCode);
  };
  return {
    result: () => (pending ??= finish()),
    stop: () => killPid(child.pid as number, 'SIGINT'),
  };
}

/** Parses iputils ping -D output: the summary, the RTT line and every echo reply. */
export function parsePingStream(output: string, exitCode: number | null): PingStreamResult {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received,(.*?)time (\d+)ms/.exec(output);
  if (m === null) throw new Error(`cannot parse ping output (exit ${exitCode}): ${output.slice(-1000).trim()}`);
  const transmitted = Number(m[1]);
  const received = Number(m[2]);
  const r = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(output);
  const rtt = r === null ? null : { min: Number(r[1]), avg: Number(r[2]), max: Number(r[3]), mdev: Number(r[4]) };
  const replies = echoReplies(output);
  const seqs = new Set(replies.map((x) => x.seq));
  const longestGap = { packets: longestMissingRun(seqs, transmitted), seconds: longestSilence(replies) };
  const trailingUnanswered = transmitted - [...seqs].reduce((a, b) => Math.max(a, b), 0);
  const summary = output.split('\n').filter((l) => !/icmp_seq=/.test(l)).join('\n').trim();
  const lastReplyAt = replies.length === 0 ? null : replies.reduce((a, x) => Math.max(a, x.at), 0);
  return { transmitted, received, lost: transmitted - received, rtt, longestGap, trailingUnanswered, lastReplyAt, errors: Number(/\+(\d+) errors/.exec(m[3] ?? '')?.[1] ?? 0), elapsedMs: Number(m[4]), exitCode, summary };
}

/** "[1700000000.123456] 64 bytes from ...: icmp_seq=N ..." lines (not "no answer yet"/unreachable ones). */
function echoReplies(output: string): Array<{ at: number; seq: number }> {
  const replies: Array<{ at: number; seq: number }> = [];
  for (const m of output.matchAll(/^\[([\d.]+)\] \d+ bytes from .*?icmp_seq=(\d+)/gm)) replies.push({ at: Number(m[1]), seq: Number(m[2]) });
  return replies;
}

/** Longest time between two consecutive replies, seconds (0 with fewer than two). */
function longestSilence(replies: Array<{ at: number }>): number {
  let longest = 0;
  for (let k = 1; k < replies.length; k++) longest = Math.max(longest, (replies[k]?.at ?? 0) - (replies[k - 1]?.at ?? 0));
  return Math.round(longest * 1000) / 1000;
}

/** icmp_seq runs 1..transmitted (no wrap: 65535 echoes is 11 min at 10 ms). */
function longestMissingRun(seqs: Set<number>, transmitted: number): number {
  let longest = 0;
  let run = 0;
  for (let seq = 1; seq <= transmitted; seq++) {
    run = seqs.has(seq) ? 0 : run + 1;
    longest = Math.max(longest, run);
  }
  return longest;
}
