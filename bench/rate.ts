/** Work per second of `fn` (each call doing `work`, e.g. FLOPs): one warm-up call, then calls for `seconds`. */
export function rate(fn: () => void, work: number, seconds: number): number {
  fn();
  const t0 = performance.now();
  let k = 0;
  do {
    fn();
    k++;
  } while (performance.now() - t0 < seconds * 1000);
  return (work * k) / ((performance.now() - t0) / 1000);
}
