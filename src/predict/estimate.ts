/**
 * What a budgeted run missed: the NSMs among the mutants it did not screen, estimated from the uniform random
 * sample of them it screened (order.ts). The share of NSMs in the sample, with its Wilson score interval (95 %),
 * scaled to the unscreened rest.
 */
import type { MissedEstimate } from '../store/predictions.js';

export type { MissedEstimate };

const Z95 = 1.959963984540054;

/** Wilson score interval for k successes of n. */
export function wilson(k: number, n: number, z = Z95): { low: number; high: number } {
  if (n === 0) return { low: 0, high: 1 };
  const p = k / n;
  const d = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / d;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

export function estimateMissed(assay: string, foundTop: number, sample: number, sampleNsms: number, unscreened: number): MissedEstimate {
  const { low, high } = wilson(sampleNsms, sample);
  const q = sample ? sampleNsms / sample : 0;
  return { assay, foundTop, sample, sampleNsms, unscreened, missed: q * unscreened, low: low * unscreened, high: high * unscreened };
}
