/**
 * The screen file: YAML, validated with zod. Every error names the key, its line, and what is allowed.
 * Paths are relative to the screen file.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isScalar, visit, type Node } from 'yaml';
import { z } from 'zod';
import { fail } from '../errors.js';

/** What a unit is set to (screen/mutate.ts writes it): the kinds of a screen file's `kinds`. */
export type Kind =
  | { type: 'max' }
  | { type: 'min' }
  | { type: 'zero' }
  | { type: 'value'; value: number }
  | { type: 'scale'; factor: number }
  | { type: 'negate' };

export type UnitSpec = { type: 'block'; size: number } | { type: 'element' } | { type: 'row' } | { type: 'col' };

/**
 * One replicate of an assay listed with several seeds: the assay `of` run under `seed`. Its own name is
 * `<of>@<seed>` (assay names cannot hold @, so a replicate's name never clashes with one given).
 */
export interface Replicate {
  of: string;
  seed: number;
}

export interface GenerateAssaySpec {
  name: string;
  replicate?: Replicate;
  /** file:line of the assay in the screen file, for messages */
  where: string;
  type: 'generate';
  prompt: string;
  chat: boolean;
  maxLength?: number;
  maxNewTokens?: number;
  temperature: number;
  topP: number;
  topK: number;
  seed: number;
  preset?: string;
}

export type ChoiceSelect = { type: 'mmlu21'; seed: number } | { type: 'first'; n: number } | { type: 'all' };

export interface ChoiceAssaySpec {
  name: string;
  replicate?: Replicate;
  /** file:line of the assay in the screen file, for messages */
  where: string;
  type: 'choice';
  /** absolute path: a folder with dev/ and test/, or one csv */
  data: string;
  subjects?: string[];
  shots: number;
  scoring: 'letters' | 'next-token';
  select: ChoiceSelect;
  temperature: number;
  topP: number;
  topK: number;
  seed: number;
}

export interface LikelihoodAssaySpec {
  name: string;
  /** a likelihood assay scoring the baselines of a replicated generate assay is replicated with it */
  replicate?: Replicate;
  /** file:line of the assay in the screen file, for messages */
  where: string;
  type: 'likelihood';
  texts: string[];
  /** generate assays whose prompt + baseline continuation are texts too */
  baselineOf: string[];
  klThreshold: number;
  klStat: 'max' | 'mean';
}

export type AssaySpec = GenerateAssaySpec | ChoiceAssaySpec | LikelihoodAssaySpec;

/**
 * Which double mutants a screen adds once its singles are done: random pairs drawn among silent singles
 * (silent in every assay: synthetic NSMs), NSM singles, an NSM and a silent single each (suppressors), the top
 * predicted NSMs, any singles, or the pairs a file lists (one name a+b per line).
 */
export interface PairsSpec {
  among: 'silent' | 'nsm' | 'nsm-silent' | 'predicted' | 'all' | 'list';
  count: number;
  seed: number;
  /** among: predicted — how many of the likeliest NSMs the pairs are drawn from */
  top: number;
  /** among: list — absolute path */
  list?: string;
}

/** Silent likelihood mutants: no argmax changed and KL(baseline ‖ mutant), max over positions, at most this (nats). */
export const DEFAULT_KL_THRESHOLD = 1e-3;

export interface ScreenSpec {
  /** absolute paths */
  model: string;
  tokenizer?: string;
  targets: string[];
  unit: UnitSpec;
  kinds: Kind[];
  kindNames: string[];
  assays: AssaySpec[];
  /**
   * How a run orders and limits the mutants it evaluates (not part of the screen's identity: a store of the same
   * screen takes runs with any order or budget). `predicted`: most likely NSMs first (src/predict/order.ts).
   */
  order: 'plan' | 'predicted';
  /** screen only the `top` most likely NSMs, plus a random sample of `sample` others to estimate what was missed */
  select?: { top: number; sample?: number };
  /** double mutants screened once the singles are done (not part of the screen's identity either) */
  pairs?: PairsSpec;
  /** the file it came from, and its text */
  file: string;
  source: string;
}

/**
 * The paper's six experiments (Hu et al., 2024): raw prompt with BOS and no chat template, temperature 0.7 with
 * Hugging Face's sampling defaults (top-k 50, no top-p), the seed reset before every generation.
 */
export const PRESETS: Record<string, Omit<GenerateAssaySpec, 'name' | 'type' | 'preset' | 'where'>> = {
  drosophila: { prompt: 'The life cycle of Drosophila:', chat: false, maxLength: 150, temperature: 0.7, topP: 1, topK: 50, seed: 0 },
  python0: { prompt: 'The following is a python program for bubble sort:', chat: false, maxLength: 150, temperature: 0.7, topP: 1, topK: 50, seed: 0 },
  python10: { prompt: 'The following is a python program for bubble sort:', chat: false, maxLength: 150, temperature: 0.7, topP: 1, topK: 50, seed: 10 },
  java: { prompt: 'The following is a Java program for bubble sort:', chat: false, maxLength: 150, temperature: 0.7, topP: 1, topK: 50, seed: 0 },
  newton: { prompt: 'The scientific accomplishments and influences of Isaac Newton:', chat: false, maxLength: 300, temperature: 0.7, topP: 1, topK: 50, seed: 0 },
  p53: { prompt: 'Tell me 10 different signal pathways through which p53 is involved in cancer development:', chat: false, maxLength: 300, temperature: 0.7, topP: 1, topK: 50, seed: 0 },
};

const KIND_HELP = 'max | min | zero | negate | value:<number> | scale:<number>';

export function parseKind(s: string): Kind | undefined {
  if (s === 'max' || s === 'min' || s === 'zero' || s === 'negate') return { type: s };
  const m = /^(value|scale):\s*(.+)$/.exec(s);
  if (m) {
    const v = Number(m[2]);
    if (m[2].trim() === '' || !Number.isFinite(v)) return undefined;
    return m[1] === 'value' ? { type: 'value', value: v } : { type: 'scale', factor: v };
  }
  return undefined;
}

export function kindName(k: Kind): string {
  return k.type === 'value' ? `value:${k.value}` : k.type === 'scale' ? `scale:${k.factor}` : k.type;
}

const int = (what: string, min: number) =>
  z.number({ error: `${what} must be a whole number ≥ ${min}` }).int({ error: `${what} must be a whole number ≥ ${min}` }).min(min, { error: `${what} must be a whole number ≥ ${min}` });

/** A key's line in the screen-file reference (docs/screen-file.md is generated from these; see screenFileJsonSchema). */
const doc = <T extends z.ZodType>(schema: T, description: string, dflt?: unknown): T =>
  schema.meta(dflt === undefined ? { description } : { description, default: dflt });

const assayName = doc(
  z.string({ error: 'name must be a string' }).regex(/^[A-Za-z0-9_.-]+$/, { error: 'name may use letters, digits, _ . - only' }),
  'the assay\'s name in stores, exports and reports (letters, digits, _ . -), unique within the screen',
);
const sampling = {
  temperature: doc(z.number({ error: 'temperature must be a number ≥ 0' }).min(0, { error: 'temperature must be a number ≥ 0' }).optional(), 'sampling temperature; 0 is greedy', 0),
  top_p: doc(z.number({ error: 'top_p must be a number from 0 to 1' }).min(0).max(1, { error: 'top_p must be a number from 0 to 1' }).optional(), 'nucleus sampling as run.c does it; 0 or 1 is off', 0),
  top_k: doc(int('top_k', 0).optional(), 'keep the k likeliest tokens before sampling; 0 is off', 0),
  seed: doc(int('seed', 0).optional(), 'the sampler\'s seed, reset before every generation (run.c\'s xorshift)', 0),
  seeds: doc(
    z.array(int('each seed', 0), { error: 'seeds must be a list of whole numbers such as [0, 1, 2, 3]' }).min(1, { error: 'seeds must not be empty' }).optional(),
    'replicates: the assay is run under each of these seeds (named <name>@<seed> in stores and exports); instead of seed',
  ),
  replicates: doc(int('replicates', 1).optional(), 'replicates under seeds seed, seed + 1, …, seed + N − 1 (instead of seeds)'),
};

const generateSchema = z
  .object({
    name: assayName,
    type: doc(z.literal('generate'), 'generate text from a prompt; a mutant is silent when its tokens equal the baseline\'s'),
    preset: doc(
      z.enum(Object.keys(PRESETS) as [string, ...string[]], { error: `preset must be one of: ${Object.keys(PRESETS).join(', ')}` }).optional(),
      `one of the paper's experiments (${Object.keys(PRESETS).join(', ')}); keys given beside it override it`,
    ),
    prompt: doc(z.string({ error: 'prompt must be a string' }).optional(), 'the prompt (required unless a preset gives it)'),
    chat: doc(z.boolean({ error: 'chat must be true or false' }).optional(), 'wrap the prompt in the model\'s chat template', false),
    max_length: doc(int('max_length', 1).optional(), 'prompt plus generated tokens, as Hugging Face counts them; at most the model\'s context', 150),
    max_new_tokens: doc(int('max_new_tokens', 1).optional(), 'generated tokens (instead of max_length)'),
    ...sampling,
  })
  .strict()
  .meta({ title: 'generate assay' });

const choiceSchema = z
  .object({
    name: assayName,
    type: doc(z.literal('choice'), 'multiple-choice questions in MMLU\'s csv layout; a mutant is silent when every answer is the baseline\'s'),
    data: doc(z.string({ error: 'data must be a path: a folder with dev/ and test/, or one csv' }), 'a folder with dev/ and test/ (MMLU\'s layout) or one csv, relative to the screen file'),
    subjects: doc(
      z.array(z.string({ error: 'each subject must be a string' }), { error: 'subjects must be a list such as [global_facts]' }).min(1, { error: 'subjects must not be empty' }).optional(),
      'subjects to ask (default: every subject found)',
    ),
    shots: doc(int('shots', 0).optional(), 'dev examples before each question', 5),
    scoring: doc(
      z.enum(['letters', 'next-token'], { error: 'scoring must be letters or next-token' }).optional(),
      'letters: the likeliest of the four letters; next-token: the one token generated after "Answer:" (the paper\'s)',
      'next-token',
    ),
    select: doc(
      z
        .union(
          [
            z.literal('all'),
            z.object({ mmlu21: z.literal(true), seed: int('seed', 0).optional() }).strict(),
            z.object({ first: int('first', 1) }).strict(),
          ],
          { error: 'select must be all, { mmlu21: true, seed: N } or { first: N }' },
        )
        .optional(),
      'which questions: all, { first: N } per subject, or { mmlu21: true, seed: N }: 14 the unmutated model answers right and 7 it answers wrong per subject',
      { mmlu21: true, seed: 0 },
    ),
    ...sampling,
  })
  .strict()
  .meta({ title: 'choice assay' });

const likelihoodSchema = z
  .object({
    name: assayName,
    type: doc(z.literal('likelihood'), 'teacher-forced texts; a mutant is silent when no argmax changed and its KL statistic is within the threshold'),
    texts: doc(z.array(z.string({ error: 'each text must be a string' }), { error: 'texts must be a list of strings' }).optional(), 'texts to score'),
    baseline_of: doc(
      z.array(z.string({ error: 'each name must be a string' }), { error: 'baseline_of must be a list of generate assay names' }).optional(),
      'generate assays of this screen whose prompt plus baseline continuation are scored too',
    ),
    kl_threshold: doc(z.number({ error: 'kl_threshold must be a number ≥ 0' }).min(0, { error: 'kl_threshold must be a number ≥ 0' }).optional(), 'largest KL(baseline ‖ mutant) in nats of a silent mutant', DEFAULT_KL_THRESHOLD),
    kl_stat: doc(z.enum(['max', 'mean'], { error: 'kl_stat must be max or mean' }).optional(), 'the KL statistic over positions', 'max'),
  })
  .strict()
  .meta({ title: 'likelihood assay' });

const assaySchema = z.discriminatedUnion('type', [generateSchema, choiceSchema, likelihoodSchema], { error: 'type must be one of: generate, choice, likelihood' });

const sweepRange = z
  .object({ from: z.number({ error: 'from must be a number' }), to: z.number({ error: 'to must be a number' }), steps: int('steps', 2) }, { error: 'a sweep is { from: <number>, to: <number>, steps: <whole number ≥ 2> }' })
  .strict();
/** A dose series of one kind with a magnitude. */
const sweepSchema = z.union([z.object({ scale: sweepRange }).strict(), z.object({ value: sweepRange }).strict()]);

/** The kinds a dose series stands for: `steps` values evenly spaced from `from` to `to`, both included. */
export function sweepKinds(type: 'scale' | 'value', r: { from: number; to: number; steps: number }): Kind[] {
  return Array.from({ length: r.steps }, (_, i) => {
    // rounded to 12 significant digits so that 0.1 steps print as 0.3, not 0.30000000000000004
    const v = Number((r.from + ((r.to - r.from) * i) / (r.steps - 1)).toPrecision(12));
    return type === 'scale' ? { type: 'scale', factor: v } : { type: 'value', value: v };
  });
}

const unitSchema = z.union(
  [
    z.literal('element'),
    z.literal('row'),
    z.literal('col'),
    z.object({ block: int('block', 1) }).strict(),
  ],
  { error: 'unit must be { block: <size ≥ 1> }, element, row or col' },
);

const screenSchema = z
  .object({
    model: doc(
      z.string({ error: 'model must be a path (a llama2.c .bin file or a Hugging Face folder)' }),
      'the model: a Hugging Face folder, a .gguf file or a llama2.c .bin checkpoint, relative to the screen file',
    ),
    tokenizer: doc(z.string({ error: 'tokenizer must be a path' }).optional(), 'a llama2.c tokenizer.bin, for a .bin checkpoint without one beside it'),
    targets: doc(
      z.union([z.literal('all'), z.array(z.string({ error: 'each target must be a string' })).min(1, { error: 'targets must not be empty' }), z.string()], {
        error: 'targets must be "all" or a list such as ["0.q", "*.gate", "0-2.up", "model.layers.2.mlp.down_proj.weight"]',
      }),
      'all (every layer matrix), or a list of: L.q k v o gate up down, L.attn_norm, L.norms, embed, final_norm, lm_head, ranges (0-2.up), wildcards (*.gate, 2.*), or the checkpoint\'s own tensor names',
    ),
    unit: doc(unitSchema, 'what one mutant changes: { block: s } (s × s tiles; the paper: 64), element, row or col'),
    kinds: doc(
      z
        .array(z.union([z.string(), sweepSchema], { error: `each kind must be one of: ${KIND_HELP}, or a sweep such as { scale: { from: 0, to: 4, steps: 9 } }` }), {
          error: `kinds must be a list of: ${KIND_HELP}`,
        })
        .min(1, { error: 'kinds must not be empty' }),
      `what a unit is set to: ${KIND_HELP} (max and min: the unmutated matrix's largest and smallest value); a dose series { scale: { from, to, steps } } or { value: { from, to, steps } } stands for its steps evenly spaced from from to to`,
    ),
    assays: doc(z.array(assaySchema, { error: 'assays must be a list' }).min(1, { error: 'a screen needs at least one assay' }), 'the tests every mutant is run through (below)'),
    order: doc(
      z.enum(['plan', 'predicted'], { error: 'order must be plan or predicted' }).optional(),
      'plan: the file\'s order; predicted: the likeliest NSMs first (predicts first when the store has no predictions)',
      'plan, or predicted with select',
    ),
    select: doc(
      z
        .object({
          top: z.number({ error: 'select.top must be a whole number ≥ 1' }).int({ error: 'select.top must be a whole number ≥ 1' }).min(1, { error: 'select.top must be a whole number ≥ 1' }),
          sample: z.number({ error: 'select.sample must be a whole number ≥ 0' }).int({ error: 'select.sample must be a whole number ≥ 0' }).min(0, { error: 'select.sample must be a whole number ≥ 0' }).optional(),
        }, { error: 'select must be { top: N } or { top: N, sample: M }' })
        .strict()
        .optional(),
      'screen only the top N likeliest NSMs by their predicted margins, plus a random sample of M others from which the NSMs missed are estimated',
    ),
    pairs: doc(
      z
        .object(
          {
            among: z.enum(['silent', 'nsm', 'nsm-silent', 'predicted', 'all', 'list'], { error: 'pairs.among must be silent, nsm, nsm-silent, predicted, all or list' }),
            count: int('pairs.count', 1).optional(),
            seed: int('pairs.seed', 0).optional(),
            top: int('pairs.top', 2).optional(),
            list: z.string({ error: 'pairs.list must be a path' }).optional(),
          },
          { error: 'pairs must be { among: silent | nsm | nsm-silent | predicted | all | list, count?: N, seed?: N, top?: N, list?: file }' },
        )
        .strict()
        .optional(),
      'double mutants screened once the singles are done: { among: silent | nsm | nsm-silent | predicted | all, count: N (1000), seed: S (0) }, predicted with top: K (64) likeliest NSMs, or { among: list, list: file } of names a+b, one per line',
    ),
  })
  .strict()
  .meta({ title: 'screen file' });

/** The screen file as a JSON Schema (2020-12): the source of docs/screen-file.md, and usable by YAML editors. */
export function screenFileJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(screenSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

/**
 * The keys the mapping at `path` of a screen file may hold, read from the schema itself so that the hint cannot
 * drift from what is accepted; where several shapes fit (an assay's type, choice's select), each one's keys.
 */
function allowedKeys(path: (string | number)[], data: unknown): string {
  // the object schemas a value may match: optional unwrapped, unions opened, an assay's options narrowed by its type
  const objects = (schema: z.ZodType, value: unknown): z.ZodObject[] => {
    if (schema instanceof z.ZodOptional) return objects(schema.unwrap() as z.ZodType, value);
    if (schema instanceof z.ZodObject) {
      const type = (schema.shape as Record<string, z.ZodType>).type;
      const given = value && typeof value === 'object' ? (value as { type?: unknown }).type : undefined;
      return type instanceof z.ZodLiteral && given !== undefined && !type.values.has(given as never) ? [] : [schema];
    }
    if (schema instanceof z.ZodUnion) return (schema.options as z.ZodType[]).flatMap((o) => objects(o, value));
    return [];
  };
  let schemas: z.ZodType[] = [screenSchema];
  let value: unknown = data;
  for (const step of path) {
    const parent = value;
    value = parent && typeof parent === 'object' ? (parent as Record<string | number, unknown>)[step] : undefined;
    schemas = schemas.flatMap((s) => {
      const inner = s instanceof z.ZodOptional ? (s.unwrap() as z.ZodType) : s;
      if (typeof step === 'number') return inner instanceof z.ZodArray ? [inner.element as z.ZodType] : [];
      return objects(inner, parent).flatMap((o) => ((o.shape as Record<string, z.ZodType>)[step] ? [(o.shape as Record<string, z.ZodType>)[step]] : []));
    });
  }
  const keys = schemas.flatMap((s) => objects(s, value)).map((o) => Object.keys(o.shape).join(', '));
  return [...new Set(keys)].join(' | ') || '(no keys: this value is not a mapping)';
}

/** A screen file's contents as an object (what the YAML holds; paths relative to the file, or absolute). */
export type ScreenFile = z.input<typeof screenSchema>;

function lineOf(doc: ReturnType<typeof parseDocument>, lc: LineCounter, path: (string | number)[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
    if (node && node.range) return lc.linePos(node.range[0]).line;
    if (n === 0 && doc.contents?.range) return lc.linePos(doc.contents.range[0]).line;
  }
  return undefined;
}

function keyLine(doc: ReturnType<typeof parseDocument>, lc: LineCounter, path: (string | number)[]): number | undefined {
  // For an unknown key, point at the key itself.
  const parent = doc.getIn(path.slice(0, -1), true) as Node | undefined;
  if (parent && isMap(parent))
    for (const item of parent.items) {
      const k = item.key as Node | null;
      if (k && (k as unknown as { value: unknown }).value === path[path.length - 1] && k.range) return lc.linePos(k.range[0]).line;
    }
  return lineOf(doc, lc, path);
}

const fmtPath = (p: (string | number)[]): string => p.map((x, i) => (typeof x === 'number' ? `[${x}]` : i ? `.${x}` : x)).join('') || '(top level)';

/** Reads and validates a screen file. */
export function loadScreenSpec(file: string): ScreenSpec {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    fail(`cannot read the screen file: ${(e as Error).message}`, file);
  }
  return parseScreenSpec(source, resolve(file));
}

/**
 * How deep the flow collections ([…], {…}) of a YAML text nest, quoted text and comments aside: the parser
 * recurses per level, and a few hundred thousand levels exhaust it.
 */
function flowDepth(source: string): { depth: number; line: number } {
  let depth = 0;
  let max = { depth: 0, line: 1 };
  let line = 1;
  let quote = '';
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === '\n') line++;
    if (quote) {
      if (ch === '\\' && quote === '"') i++;
      else if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#' && (i === 0 || /\s/.test(source[i - 1]))) while (i + 1 < source.length && source[i + 1] !== '\n') i++;
    else if (ch === '[' || ch === '{') {
      if (++depth > max.depth) max = { depth, line };
    } else if (ch === ']' || ch === '}') depth = Math.max(0, depth - 1);
  }
  return max;
}

/** Deeper than any screen needs, far shallower than what exhausts the parser. */
const MAX_FLOW_DEPTH = 64;

export function parseScreenSpec(source: string, file: string): ScreenSpec {
  const deep = flowDepth(source);
  if (deep.depth > MAX_FLOW_DEPTH) fail(`the screen file nests lists or mappings ${deep.depth} deep`, `${file}:${deep.line}`, `a screen file needs a few levels; at most ${MAX_FLOW_DEPTH} are read`);
  const lc = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line ?? (e.pos ? lc.linePos(e.pos[0]).line : undefined);
    fail(`the screen file is not valid YAML: ${e.message.split('\n')[0]}`, `${file}${line ? `:${line}` : ''}`, 'fix the YAML syntax');
  }
  // a mapping's key is a word; YAML allows lists and mappings as keys, which JavaScript objects cannot hold
  visit(doc, {
    Pair(_, pair) {
      if (pair.key !== null && !isScalar(pair.key)) {
        const at = (pair.key as Node).range;
        fail('a key of the screen file is a list or a mapping', `${file}${at ? `:${lc.linePos(at[0]).line}` : ''}`, 'keys are plain words such as model, targets or assays');
      }
    },
  });
  let data: unknown;
  try {
    // YAML aliases may refer to each other; a file that expands past 100 of them is refused, not expanded
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    fail(`the screen file cannot be read as data: ${(e as Error).message}`, file, 'write the values out instead of nesting aliases (*name) of aliases');
  }
  if (!data || typeof data !== 'object' || Array.isArray(data) || !isMap(doc.contents))
    fail('the screen file must be a YAML mapping with model, targets, unit, kinds and assays', file, 'see the README for an example');
  const parsed = screenSchema.safeParse(data);
  if (!parsed.success) {
    // An unknown key explains the rest (a misspelt key also shows up as a missing one): report it first.
    const issue = parsed.error.issues.find((i) => i.code === 'unrecognized_keys') ?? parsed.error.issues[0];
    const path = issue.path as (string | number)[];
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      const key = (issue as { keys: string[] }).keys[0];
      const at = [...path, key];
      fail(`unknown key "${fmtPath(at)}"`, `${file}:${keyLine(doc, lc, at) ?? '?'}`, `allowed here: ${allowedKeys(path, data)}`);
    }
    if (issue.code === 'invalid_type' && /received undefined/.test(message)) message = `${fmtPath(path)} is required`;
    else if (issue.code === 'invalid_type' && issue.message.includes('Invalid input')) message = `${fmtPath(path)}: ${issue.message}`;
    else if (!message.startsWith(String(path[path.length - 1]))) message = `${fmtPath(path)}: ${message}`;
    else message = `${fmtPath(path.slice(0, -1)) === '(top level)' ? '' : fmtPath(path.slice(0, -1)) + '.'}${message}`;
    fail(message, `${file}:${lineOf(doc, lc, path) ?? '?'}`);
  }
  const s = parsed.data;
  const dir = dirname(file);
  const kinds: Kind[] = s.kinds.flatMap((k, i): Kind[] => {
    if (typeof k !== 'string') return 'scale' in k ? sweepKinds('scale', k.scale) : sweepKinds('value', k.value);
    return [parseKind(k) ?? fail(`kinds[${i}]: unknown kind "${k}"`, `${file}:${lineOf(doc, lc, ['kinds', i]) ?? '?'}`, `allowed: ${KIND_HELP}`)];
  });
  const seen = new Set<string>();
  kinds.forEach((k) => {
    const n = kindName(k);
    if (seen.has(n)) fail(`kinds: "${n}" is listed twice`, `${file}:${lineOf(doc, lc, ['kinds']) ?? '?'}`, 'list each kind once (sweeps included)');
    seen.add(n);
  });
  const names = new Set<string>();
  // each assay's seeds when it is replicated (more than one), by its given name
  const seedsOf = new Map<string, number[]>();
  s.assays.forEach((a, i) => {
    if (a.type === 'likelihood') return;
    const where = `${file}:${lineOf(doc, lc, ['assays', i]) ?? '?'}`;
    if (a.seeds && a.replicates !== undefined) fail(`assays[${i}] ("${a.name}") sets both seeds and replicates`, where, 'keep one: seeds: [0, 1, 2] or replicates: 3');
    if (a.seeds && a.seed !== undefined) fail(`assays[${i}] ("${a.name}") sets both seed and seeds`, where, 'list every seed under seeds');
    const first = a.seed ?? (a.type === 'generate' && a.preset ? PRESETS[a.preset].seed : 0);
    const seeds = a.seeds ?? (a.replicates !== undefined ? Array.from({ length: a.replicates }, (_, k) => first + k) : undefined);
    if (seeds && new Set(seeds).size !== seeds.length) fail(`assays[${i}] ("${a.name}"): a seed is listed twice`, where, 'list each seed once');
    if (seeds && seeds.length > 1) seedsOf.set(a.name, seeds);
    else if (seeds) a.seed = seeds[0];
  });
  const assays: AssaySpec[] = s.assays.flatMap((a, i): AssaySpec[] => {
    const one = single(a, i);
    const seeds = seedsOf.get(a.name);
    if (seeds && one.type !== 'likelihood') return seeds.map((seed) => ({ ...one, name: `${one.name}@${seed}`, seed, replicate: { of: one.name, seed } }));
    if (one.type !== 'likelihood') return [one];
    // scoring the baselines of replicated generate assays: one likelihood assay per seed, each scoring that seed's baselines
    const lists = [...new Set(one.baselineOf.filter((n) => seedsOf.has(n)).map((n) => seedsOf.get(n)!.join(',')))];
    if (lists.length === 0) return [one];
    if (lists.length > 1) fail(`assays[${i}] ("${a.name}"): baseline_of names replicated assays with different seeds`, one.where, 'give them the same seeds, or score them in separate likelihood assays');
    return lists[0].split(',').map((x) => {
      const seed = Number(x);
      return { ...one, name: `${one.name}@${seed}`, baselineOf: one.baselineOf.map((n) => (seedsOf.has(n) ? `${n}@${seed}` : n)), replicate: { of: one.name, seed } };
    });
  });
  function single(a: (typeof s.assays)[number], i: number): AssaySpec {
    const where = `${file}:${lineOf(doc, lc, ['assays', i]) ?? '?'}`;
    if (names.has(a.name)) fail(`assays[${i}]: the name "${a.name}" is used twice`, where, 'give every assay its own name');
    names.add(a.name);
    if (a.type === 'choice') {
      const sel = a.select ?? { mmlu21: true as const };
      return {
        name: a.name,
        where,
        type: 'choice',
        data: resolve(dirname(file), a.data),
        subjects: a.subjects,
        shots: a.shots ?? 5,
        scoring: a.scoring ?? 'next-token',
        select: sel === 'all' ? { type: 'all' } : 'first' in sel ? { type: 'first', n: sel.first } : { type: 'mmlu21', seed: sel.seed ?? 0 },
        temperature: a.temperature ?? 0,
        topP: a.top_p ?? 0,
        topK: a.top_k ?? 0,
        seed: a.seed ?? 0,
      };
    }
    if (a.type === 'likelihood') {
      const texts = a.texts ?? [];
      const baselineOf = a.baseline_of ?? [];
      if (texts.length + baselineOf.length === 0) fail(`assays[${i}] ("${a.name}") has no texts`, where, 'add texts: ["..."] or baseline_of: [<generate assay name>]');
      for (const n of baselineOf) {
        const other = s.assays.find((x) => x.name === n);
        if (!other || other.type !== 'generate') fail(`assays[${i}] ("${a.name}"): baseline_of names "${n}", which is not a generate assay of this screen`, where, 'list names of generate assays');
      }
      return { name: a.name, where, type: 'likelihood', texts, baselineOf, klThreshold: a.kl_threshold ?? DEFAULT_KL_THRESHOLD, klStat: a.kl_stat ?? 'max' };
    }
    const preset = a.preset ? PRESETS[a.preset] : undefined;
    const prompt = a.prompt ?? preset?.prompt;
    if (prompt === undefined) fail(`assays[${i}] ("${a.name}") has no prompt`, where, `add prompt: "...", or preset: one of ${Object.keys(PRESETS).join(', ')}`);
    if (a.max_length !== undefined && a.max_new_tokens !== undefined) fail(`assays[${i}] ("${a.name}") sets both max_length and max_new_tokens`, where, 'keep one');
    const lengths = a.max_length !== undefined || a.max_new_tokens !== undefined ? { maxLength: a.max_length, maxNewTokens: a.max_new_tokens } : { maxLength: preset?.maxLength ?? 150 };
    return {
      name: a.name,
      where,
      type: 'generate',
      prompt,
      chat: a.chat ?? preset?.chat ?? false,
      ...lengths,
      temperature: a.temperature ?? preset?.temperature ?? 0,
      topP: a.top_p ?? preset?.topP ?? 0,
      topK: a.top_k ?? preset?.topK ?? 0,
      seed: a.seed ?? preset?.seed ?? 0,
      preset: a.preset,
    };
  }
  const unit: UnitSpec = typeof s.unit === 'string' ? { type: s.unit } : { type: 'block', size: s.unit.block };
  const targets = s.targets === 'all' ? ['all'] : typeof s.targets === 'string' ? [s.targets] : s.targets;
  return {
    model: resolve(dir, s.model),
    tokenizer: s.tokenizer ? resolve(dir, s.tokenizer) : undefined,
    targets,
    unit,
    kinds,
    kindNames: kinds.map(kindName),
    assays,
    order: s.order ?? (s.select ? 'predicted' : 'plan'),
    select: s.select,
    pairs: s.pairs && pairsOf(s.pairs, dir, `${file}:${lineOf(doc, lc, ['pairs']) ?? '?'}`),
    file,
    source,
  };
}

function pairsOf(p: { among: PairsSpec['among']; count?: number; seed?: number; top?: number; list?: string }, dir: string, where: string): PairsSpec {
  if (p.among === 'list' && p.list === undefined) fail('pairs: among: list needs list: <file>', where, 'name a file of pairs, one name a+b per line');
  if (p.among !== 'list' && p.list !== undefined) fail(`pairs: list goes with among: list, not among: ${p.among}`, where);
  if (p.among !== 'predicted' && p.top !== undefined) fail(`pairs: top goes with among: predicted, not among: ${p.among}`, where);
  return { among: p.among, count: p.count ?? 1000, seed: p.seed ?? 0, top: p.top ?? 64, list: p.list === undefined ? undefined : resolve(dir, p.list) };
}

/** The line of `targets[i]` in the source, for errors found once the model is loaded. */
export function targetLine(spec: ScreenSpec, i: number): string {
  const lc = new LineCounter();
  const doc = parseDocument(spec.source, { lineCounter: lc });
  const node = doc.getIn(['targets', i], true) as Node | undefined;
  const seq = doc.get('targets', true) as Node | undefined;
  const n = node ?? seq;
  return `${spec.file}:${n?.range ? lc.linePos(n.range[0]).line : '?'}`;
}

