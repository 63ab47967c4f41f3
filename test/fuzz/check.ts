/**
 * Runs a fuzz target and checks what every input must give: a result, or a MutascanError naming the input's
 * file; never another exception, never more than `slowMs` for one input, never memory grown by a header's claim.
 */
import fc from 'fast-check';
import { MutascanError } from '../../src/errors.js';
import type { FuzzTarget } from './targets.js';

export interface FuzzReport {
  target: string;
  runs: number;
  /** inputs mutascan opened (and ran one step), and inputs it refused with a MutascanError */
  opened: number;
  refused: number;
  seconds: number;
  slowestMs: number;
  /** the largest resident set seen, over the one at the start */
  rssGrowthMiB: number;
  /** the first input that broke an invariant, shrunk by fast-check, and what it broke */
  finding?: { input: string; problem: string };
}

/**
 * The event loop is given a turn every so many inputs: what Node frees through finalizers (a model's file
 * mapping, once its tensors are collected) is freed there, and a loop that never yields would hold every mapping
 * it ever made until the kernel refuses more, which no command that yields ever meets.
 */
const YIELD_EVERY = 64;

export async function checkTarget<T>(t: FuzzTarget<T>, o: { runs: number; seed: number; slowMs: number; afterInput?: (n: number) => void }): Promise<FuzzReport> {
  let opened = 0;
  let refused = 0;
  let slowest = 0;
  const rss0 = process.memoryUsage().rss;
  let rssMax = rss0;
  const t0 = performance.now();
  let tried = 0;
  const result = await fc.check(
    fc.asyncProperty(t.input, async (input) => {
      if (++tried % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
      const s = performance.now();
      try {
        t.run(input);
        opened++;
      } catch (e) {
        if (!(e instanceof MutascanError)) throw new Error(`not a MutascanError: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message ?? e}\n${(e as Error)?.stack ?? ''}`);
        if (t.names.length && !t.names.some((n) => e.message.includes(n))) throw new Error(`the message does not name ${t.names.join(' or ')}: ${e.message}`);
        refused++;
      } finally {
        const ms = performance.now() - s;
        slowest = Math.max(slowest, ms);
        rssMax = Math.max(rssMax, process.memoryUsage().rss);
      }
      o.afterInput?.(opened + refused);
      const ms = performance.now() - s;
      if (ms > o.slowMs) throw new Error(`took ${ms.toFixed(0)} ms (limit ${o.slowMs})`);
    }),
    { numRuns: o.runs, seed: o.seed, endOnFailure: true },
  );
  const report: FuzzReport = { target: t.name, runs: result.numRuns, opened, refused, seconds: (performance.now() - t0) / 1000, slowestMs: slowest, rssGrowthMiB: (rssMax - rss0) / 2 ** 20 };
  if (result.failed) {
    const err = result.errorInstance as Error | undefined;
    report.finding = { input: JSON.stringify(result.counterexample, (_, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Array.from(v) : v)), problem: err?.message ?? String(result.failed) };
  }
  return report;
}
