import { InvalidArgumentError } from 'commander';

/** Option parsers that turn bad values into one readable line. */
export function int(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be a whole number ≥ ${min}, got "${v}".`);
    return n;
  };
}

export function real(name: string, min = -Infinity, max = Infinity) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be a number${min > -Infinity ? ` ≥ ${min}` : ''}${max < Infinity ? ` and ≤ ${max}` : ''}, got "${v}".`);
    return n;
  };
}

/** --kv-memory GiB: the budget of keys and values of a screening process (fast.ts, defaultKvBudget), as its variable. */
export function kvMemory(v: string): number {
  const gib = real('--kv-memory', 0.001)(v);
  process.env.MUTASCAN_KV_MEMORY = String(gib);
  return gib;
}
