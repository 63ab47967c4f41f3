/**
 * Structure-aware mutations for the fuzz targets, as fast-check arbitraries: each draws a plan (which field, which
 * value, where to cut) that fast-check can shrink, and applies it to a valid seed. Binary formats get their
 * fields overwritten with the values parsers trip on (0, 1, -1, 2^31, 2^32 − 1, 2^53 + 1, 2^64 − 1), cuts and
 * flipped bytes; JSON and YAML documents get values of the wrong type, deep nesting and duplicated keys.
 */
import fc from 'fast-check';

/** Where a binary format keeps its integers: byte offset and width. */
export interface Field {
  at: number;
  bytes: 4 | 8;
  what: string;
}

const BOUNDARIES = [0n, 1n, 2n, 3n, 7n, 31n, 32n, 33n, 255n, 256n, 1023n, 4096n, 65535n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 64n - 1n];

export type ByteEdit =
  | { op: 'field'; field: number; value: bigint }
  | { op: 'field-bump'; field: number; delta: number }
  | { op: 'cut'; at: number }
  | { op: 'flip'; at: number; xor: number }
  | { op: 'splice'; at: number; len: number; fill: number }
  | { op: 'append'; bytes: Uint8Array };

/** An edit of a file of `size` bytes with these fields: mostly fields (the interesting bytes), some blind. */
export function byteEdit(size: number, fields: readonly Field[]): fc.Arbitrary<ByteEdit> {
  const pos = fc.nat({ max: Math.max(0, size - 1) });
  const ops: fc.Arbitrary<ByteEdit>[] = [
    fc.record({ op: fc.constant('cut' as const), at: pos }),
    fc.record({ op: fc.constant('flip' as const), at: pos, xor: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ op: fc.constant('splice' as const), at: pos, len: fc.integer({ min: 1, max: 64 }), fill: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  ];
  if (fields.length) {
    const field = fc.nat({ max: fields.length - 1 });
    ops.push(
      fc.record({ op: fc.constant('field' as const), field, value: fc.constantFrom(...BOUNDARIES) }),
      fc.record({ op: fc.constant('field' as const), field, value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
      fc.record({ op: fc.constant('field-bump' as const), field, delta: fc.integer({ min: -3, max: 3 }) }),
    );
    return fc.oneof({ weight: 3, arbitrary: fc.oneof(...ops.slice(4)) }, { weight: 2, arbitrary: fc.oneof(...ops.slice(0, 4)) });
  }
  return fc.oneof(...ops);
}

export function applyEdits(seed: Uint8Array, fields: readonly Field[], edits: readonly ByteEdit[]): Uint8Array {
  let b = Buffer.from(seed);
  for (const e of edits) {
    if (e.op === 'cut') b = b.subarray(0, Math.min(e.at, b.length));
    else if (e.op === 'flip') {
      if (e.at < b.length) b[e.at] ^= e.xor;
    } else if (e.op === 'splice') {
      if (e.at < b.length) b.fill(e.fill, e.at, Math.min(b.length, e.at + e.len));
    } else if (e.op === 'append') b = Buffer.concat([b, e.bytes]);
    else {
      const f = fields[e.field];
      if (f.at + f.bytes > b.length) continue;
      const old = f.bytes === 4 ? BigInt(b.readUInt32LE(f.at)) : b.readBigUInt64LE(f.at);
      const mask = f.bytes === 4 ? 2n ** 32n - 1n : 2n ** 64n - 1n;
      const v = (e.op === 'field' ? e.value : old + BigInt(e.delta)) & mask;
      if (f.bytes === 4) b.writeUInt32LE(Number(v), f.at);
      else b.writeBigUInt64LE(v, f.at);
    }
  }
  return b;
}

/** Values of the wrong type and the edges of the right one, for a JSON or YAML document's leaves. */
export const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -1, 1, 0.5, -0.0, 1e308, -1e308, 2 ** 31, 2 ** 32, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, 1e-300, '', 'x', '0', 'NaN', true, false, null, [], {}, [0], { a: 1 }),
  fc.jsonValue({ maxDepth: 3 }),
);

export type JsonEdit = { op: 'set'; path: number[]; value: unknown } | { op: 'delete'; path: number[] } | { op: 'deep'; depth: number } | { op: 'text'; text: string };

/** A path is a list of choices, each taken modulo the number of keys or items where it lands: it always lands. */
export const jsonEdit: fc.Arbitrary<JsonEdit> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), path: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), value: oddValue }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), path: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deep' as const), depth: fc.constantFrom(100, 10_000, 200_000) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('text' as const), text: fc.string({ maxLength: 40 }) }) },
);

/** Applies edits to a copy of a parsed document; 'deep' and 'text' give a text that is no longer the document. */
export function applyJsonEdits(doc: unknown, edits: readonly JsonEdit[]): { doc?: unknown; text?: string } {
  let d = structuredClone(doc);
  for (const e of edits) {
    if (e.op === 'deep') return { text: '['.repeat(e.depth) + ']'.repeat(e.depth) };
    if (e.op === 'text') return { text: e.text };
    let parent: unknown = undefined;
    let key: string | number | undefined;
    let at: unknown = d;
    for (const step of e.path) {
      if (at === null || typeof at !== 'object') break;
      const keys: (string | number)[] = Array.isArray(at) ? at.map((_, i) => i) : Object.keys(at);
      if (!keys.length) break;
      parent = at;
      key = keys[step % keys.length];
      at = (at as Record<string | number, unknown>)[key];
    }
    if (parent === undefined || key === undefined) {
      if (e.op === 'set') d = e.value;
      continue;
    }
    if (e.op === 'set') (parent as Record<string | number, unknown>)[key] = structuredClone(e.value);
    else if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete (parent as Record<string, unknown>)[key as string];
  }
  return { doc: d };
}
