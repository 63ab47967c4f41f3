/**
 * How a generated output compares with the baseline's.
 *
 * - silent: the generated ids equal the baseline's, token for token.
 * - first divergence: the index (in generated tokens) of the first id that differs.
 * - similarity: 1 − (token-level Levenshtein distance / length of the longer output); 1 = identical, 0 = nothing shared.
 * - destructive: the output is empty (nothing before a stop token), stuck in a loop (its last half, at least 8
 *   tokens, repeats one n-gram of 1–8 tokens), or mostly not text (under half of its characters are letters,
 *   digits, white space or ordinary punctuation).
 */
import { createHash } from 'node:crypto';

export function firstDivergence(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

export function similarity(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 && m === 0) return 1;
  let prev = new Uint32Array(m + 1).map((_, j) => j);
  let cur = new Uint32Array(m + 1);
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    for (let j = 1; j <= m; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    [prev, cur] = [cur, prev];
  }
  return 1 - prev[m] / Math.max(n, m);
}

export function isLoop(ids: readonly number[]): boolean {
  const tail = Math.max(8, Math.ceil(ids.length / 2));
  if (ids.length < tail) return false;
  const start = ids.length - tail;
  for (let p = 1; p <= 8; p++) {
    let periodic = true;
    for (let i = start + p; i < ids.length && periodic; i++) if (ids[i] !== ids[i - p]) periodic = false;
    if (periodic) return true;
  }
  return false;
}

const TEXTY = /[\p{L}\p{N}\s.,;:!?'"()-]/u;

export function isMostlyNonText(text: string): boolean {
  const chars = [...text];
  if (chars.length === 0) return false;
  const ok = chars.filter((c) => TEXTY.test(c)).length;
  return ok < chars.length / 2;
}

export function isDestructive(ids: readonly number[], text: string, stopIds: readonly number[]): boolean {
  const content = ids.filter((t) => !stopIds.includes(t));
  return content.length === 0 || isLoop(content) || isMostlyNonText(text);
}

/** Identity of an output: mutants with equal ids share a phenotype. */
export function idsHash(ids: readonly number[]): string {
  return createHash('sha1').update(Int32Array.from(ids)).digest('hex');
}
