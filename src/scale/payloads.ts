/**
 * What arrives from the queue, checked before it is used: a published screen (JSON a coordinator wrote into
 * Redis), a batch of mutants (a job's data), and a batch's results (what a worker returned). Anything on the
 * queue may be from another mutascan, damaged, or written by hand; each is read into its type or refused with a
 * MutascanError saying what is wrong.
 */
import { z } from 'zod';
import { fail } from '../errors.js';
import { VERSION } from '../version.js';
import { SCHEMA_VERSION } from '../store/schema.js';
import type { MutantResult } from '../store/store.js';

/** What a worker needs to run a screen's batches, published by its coordinator. */
export interface PublishedScreen {
  id: string;
  queue: string;
  specYaml: string;
  /** the screen file's path on the coordinator's machine (relative paths in it are resolved from there) */
  specFile: string;
  modelFingerprint: string;
  backend: string;
  plain: boolean;
  /** per assay, the unmutated model's output ids, which every worker must reproduce */
  baselines: number[][];
  /** what the screen's results' bits depend on (Backend.numerics): a worker computing other bits refuses it */
  numerics?: string;
  /** the coordinator's mutascan and store schema: a worker of another version refuses the screen */
  mutascanVersion: string;
  schemaVersion: number;
}

export interface Batch {
  id: string;
  /** the first mutant's ordinal */
  first: number;
  count: number;
  /** a guided run's batch: its mutants, in the run's order (else first, first + 1, …) */
  ordinals?: number[];
}

const count = z.number().int().min(0);

const publishedScreenSchema = z.object({
  id: z.string().min(1),
  queue: z.string().min(1),
  specYaml: z.string(),
  specFile: z.string(),
  modelFingerprint: z.string(),
  backend: z.string(),
  plain: z.boolean(),
  baselines: z.array(z.array(count)),
  numerics: z.string().optional(),
  mutascanVersion: z.string(),
  schemaVersion: z.number().int(),
});

const describeIssue = (e: z.ZodError): string => {
  const i = e.issues[0];
  return `${i.path.length ? i.path.join('.') : '(the whole value)'}: ${i.message}`;
};

/**
 * A published screen from its JSON. One of another mutascan version is returned as far as it can be read, so
 * that the worker refuses it by version (the message that says what to install); one of this version must
 * have every field.
 */
export function parsePublishedScreen(raw: string, id: string): PublishedScreen {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (e) {
    fail(`the screen published on the queue is not JSON (${(e as Error).message})`, `screen ${id}`, 'the coordinator writes it; restart the coordinator, or remove the key from Redis');
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) fail('the screen published on the queue is not an object', `screen ${id}`, 'restart the coordinator, or remove the key from Redis');
  const d = data as Record<string, unknown>;
  if (d.mutascanVersion !== VERSION || d.schemaVersion !== SCHEMA_VERSION)
    return { id, mutascanVersion: typeof d.mutascanVersion === 'string' ? d.mutascanVersion : undefined, schemaVersion: typeof d.schemaVersion === 'number' ? d.schemaVersion : undefined } as unknown as PublishedScreen;
  const r = publishedScreenSchema.safeParse(data);
  if (!r.success) fail(`the screen published on the queue is not one this mutascan reads (${describeIssue(r.error)})`, `screen ${id}`, 'restart the coordinator, or remove the key from Redis');
  if (r.data.id !== id) fail(`the screen published as ${id} calls itself ${r.data.id}`, `screen ${id}`, 'restart the coordinator');
  return r.data;
}

const batchSchema = z.object({
  first: count,
  count: z.number().int().min(1),
  ordinals: z.array(count).min(1).optional(),
});

/** Job `id`'s data as a batch of mutants of a plan of `total`, every ordinal inside it. */
export function parseBatch(id: string, data: unknown, total: number): Batch {
  const r = batchSchema.safeParse(data);
  if (!r.success) fail(`job ${id} on the queue is not a batch of mutants (${describeIssue(r.error)})`, 'the queue', 'the coordinator writes the jobs; restart it');
  const b = { id, ...r.data };
  const last = b.ordinals ? b.ordinals.reduce((a, x) => Math.max(a, x), 0) : b.first + b.count - 1;
  if (b.ordinals && b.ordinals.length !== b.count) fail(`batch ${b.id} lists ${b.ordinals.length} mutants but counts ${b.count}`, 'the queue', 'the coordinator writes the jobs; restart it');
  if (last >= total) fail(`batch ${b.id} asks for mutant ${last}, past the screen's ${total} mutants`, 'the queue', 'the job belongs to another screen or version: restart the coordinator');
  return b;
}

const finite = z.number().finite();
const outcomeSchema = z.object({
  silent: z.boolean(),
  phenotype: z
    .object({ key: z.string().max(256), ids: z.array(count), text: z.string(), divergeAt: count, divergeEnd: count, baselineEnd: count })
    .optional(),
  firstDivergence: count.nullable(),
  similarity: finite.nullable(),
  destructive: z.boolean(),
  nTokens: count,
  tie: z.boolean(),
  metrics: z
    // JSON carries a metric that is not finite as null
    .object({ accuracy: finite.nullable(), accuracyChange: finite.nullable(), klMean: finite.nullable(), klMax: finite.nullable(), loglikChange: finite.nullable(), argmaxChanges: finite.nullable() })
    .partial()
    .optional(),
});
const batchResultSchema = z.object({
  results: z.array(z.object({ ordinal: count, outcomes: z.array(outcomeSchema) })),
  worker: z.object({ name: z.string().max(512), seconds: finite.min(0), numerics: z.string().max(512).optional() }).optional(),
});

export interface CheckedBatchResult {
  results: MutantResult[];
  worker?: { name: string; seconds: number; numerics?: string };
}

/**
 * What a worker returned for `batch`: every mutant of the batch once, nothing else, with one outcome per assay
 * whose output ids are tokens of the model. A worker is trusted to compute, not to be well-formed: a result of
 * another shape is refused (the coordinator puts the batch back on the queue) rather than stored.
 */
export function parseBatchResult(batch: Batch, data: unknown, o: { assays: number; vocabSize: number }): CheckedBatchResult {
  const where = `the result of batch ${batch.id}`;
  const hint = 'the batch goes back to the queue; if this repeats, stop the worker that sent it (another mutascan version, or not mutascan)';
  const r = batchResultSchema.safeParse(data);
  if (!r.success) fail(`a worker's result is not a batch's results (${describeIssue(r.error)})`, where, hint);
  const want = new Set(batch.ordinals ?? Array.from({ length: batch.count }, (_, i) => batch.first + i));
  const seen = new Set<number>();
  for (const m of r.data.results) {
    if (!want.has(m.ordinal)) fail(`a worker returned mutant ${m.ordinal}, which is not in the batch`, where, hint);
    if (seen.has(m.ordinal)) fail(`a worker returned mutant ${m.ordinal} twice`, where, hint);
    seen.add(m.ordinal);
    if (m.outcomes.length !== o.assays) fail(`a worker returned ${m.outcomes.length} outcomes for mutant ${m.ordinal}; the screen has ${o.assays} assays`, where, hint);
    for (const x of m.outcomes) if (x.phenotype?.ids.some((id) => id >= o.vocabSize)) fail(`a worker returned a token id past the vocabulary (${o.vocabSize}) for mutant ${m.ordinal}`, where, hint);
  }
  if (seen.size !== want.size) fail(`a worker returned ${seen.size} of the batch's ${want.size} mutants`, where, hint);
  return r.data as CheckedBatchResult;
}
