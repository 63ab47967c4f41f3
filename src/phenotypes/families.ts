/**
 * Phenotypes as functions: per generate assay, every distinct output with the mutants that make it (its family),
 * its style labels, an embedding by the unmutated model, a cluster, a 2-D layout, and where in the matrices its
 * mutants sit. Read from a store; the model is needed only for the embeddings (without it, styles and families
 * are still given and the rest is left out with a note).
 */
import { kmeans } from 'ml-kmeans';
import { UMAP } from 'umap-js';
import { modelFingerprint } from '../model/fingerprint.js';
import type { Transformer } from '../model/forward.js';
import { openTransformer } from '../model/open.js';
import type { AssayRow, Store } from '../store/store.js';
import { Gaussian, seededRandom } from '../util/random.js';
import { wordAt } from '../util/words.js';
import { cosine, embedOutputs } from './embed.js';
import { labelStyles, type Style, type StyleInput } from './styles.js';

export interface PhenotypeFamily {
  id: number;
  assay: string;
  /** mutants whose output this is */
  mutants: number;
  styles: Style[];
  likeBaseline: boolean;
  /** k-means cluster of the embeddings (0-based, largest cluster first); null without the model */
  cluster: number | null;
  /** cosine similarity of its embedding to the baseline's; null without the model */
  similarity: number | null;
  /** 2-D layout (UMAP of the embeddings); null without the model */
  x: number | null;
  y: number | null;
  /** the output's word at its first divergence, and the baseline's there */
  divergentWord: string;
  baselineWord: string;
  excerpt: string;
  text: string;
  nTokens: number;
  /** targets its mutants sit in, with how many, most first, e.g. "4.down×12" */
  targets: { target: string; layer: number | null; mutants: number }[];
  layers: number[];
}

export interface AssayPhenotypes {
  assay: string;
  baseline: { text: string; styles: Style[] };
  families: PhenotypeFamily[];
  clusters: number;
  /** why embeddings, clusters or layout are missing, if they are */
  note?: string;
}

/** The model given is another than the store's: no embeddings, and a note saying so. */
class MismatchedModel extends Error {}

export interface PhenotypeOptions {
  /** the model to embed with (default: the store's model path); its fingerprint must be the store's */
  model?: string;
  tokenizer?: string;
  /** auto (default), ts or native */
  backend?: string;
  /** skip embeddings, clusters and layout */
  noEmbed?: boolean;
  seed?: number;
}

function budgetOf(settingsJson: string, promptLength: number): number {
  const s = JSON.parse(settingsJson) as { max_length?: number | null; max_new_tokens?: number | null };
  if (s.max_new_tokens) return s.max_new_tokens;
  return Math.max(0, (s.max_length ?? 0) - promptLength);
}

/** Labels the outputs of one generate assay by style; its token budget decides what counts as stopped early. */
export function stylerFor(a: Pick<AssayRow, 'settingsJson' | 'promptIds' | 'baseline'>): (ids: readonly number[], text: string) => { styles: Style[]; likeBaseline: boolean } {
  const budget = budgetOf(a.settingsJson, (a.promptIds as number[]).length);
  const input = (ids: readonly number[], text: string): StyleInput => ({ text, nTokens: ids.length, stopped: ids.length < budget });
  const baseline = input(a.baseline.ids, a.baseline.text);
  return (ids, text) => labelStyles(input(ids, text), baseline);
}

/** Above this many dimensions, clusters and layout work on a seeded random projection to it (Johnson–Lindenstrauss). */
const PROJECTED_DIM = 128;

/**
 * A 7B model's 4,096-wide embeddings projected to PROJECTED_DIM by a seeded Gaussian matrix and scaled back to
 * unit length: a cosine moves by about 1/√128 ≈ 0.09 (close pairs far less), and k-means, silhouettes and UMAP
 * cost 32× less. Narrower embeddings are used as they are.
 */
function project(points: Float32Array[], seed: number): Float32Array[] {
  const dim = points[0]?.length ?? 0;
  if (dim <= PROJECTED_DIM) return points;
  const g = new Gaussian(seed ^ 0x5eed);
  const m = Float32Array.from({ length: PROJECTED_DIM * dim }, () => g.normal());
  return points.map((p) => {
    const out = new Float32Array(PROJECTED_DIM);
    let norm = 0;
    for (let k = 0; k < PROJECTED_DIM; k++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += m[k * dim + d] * p[d];
      out[k] = s;
      norm += s * s;
    }
    norm = Math.sqrt(norm) || 1;
    for (let k = 0; k < PROJECTED_DIM; k++) out[k] /= norm;
    return out;
  });
}

/** Mean silhouette of a clustering on unit vectors (cosine distance). */
function silhouette(points: Float32Array[], labels: number[], k: number): number {
  let total = 0;
  for (let i = 0; i < points.length; i++) {
    const sum = new Float64Array(k);
    const count = new Float64Array(k);
    for (let j = 0; j < points.length; j++) {
      if (j === i) continue;
      sum[labels[j]] += 1 - cosine(points[i], points[j]);
      count[labels[j]]++;
    }
    const own = labels[i];
    if (count[own] === 0) continue;
    const a = sum[own] / count[own];
    let b = Infinity;
    for (let c = 0; c < k; c++) if (c !== own && count[c] > 0) b = Math.min(b, sum[c] / count[c]);
    if (Number.isFinite(b)) total += (b - a) / Math.max(a, b, 1e-12);
  }
  return total / points.length;
}

/** k-means on the embeddings, k from 2 to 12 chosen by the mean silhouette (on at most 1,500 points). */
function cluster(points: Float32Array[], seed: number): { labels: number[]; k: number } {
  const n = points.length;
  if (n < 4) return { labels: points.map(() => 0), k: 1 };
  const data = points.map((p) => Array.from(p));
  let best: { labels: number[]; k: number; score: number } | undefined;
  const sample = n > 1500 ? points.slice(0, 1500) : points;
  for (let k = 2; k <= Math.min(12, n - 1); k++) {
    const r = kmeans(data, k, { seed, initialization: 'kmeans++' });
    const score = silhouette(sample, r.clusters.slice(0, sample.length), k);
    if (!best || score > best.score + 1e-9) best = { labels: r.clusters, k, score };
  }
  // clusters renumbered by size, largest first (ties by first member), so that 0 is the main family
  const size = new Map<number, number>();
  for (const l of best!.labels) size.set(l, (size.get(l) ?? 0) + 1);
  const order = [...size.keys()].sort((a, b) => size.get(b)! - size.get(a)! || best!.labels.indexOf(a) - best!.labels.indexOf(b));
  const rank = new Map(order.map((l, i) => [l, i]));
  return { labels: best!.labels.map((l) => rank.get(l)!), k: best!.k };
}

function layout(points: Float32Array[], seed: number): [number, number][] {
  const n = points.length;
  if (n === 0) return [];
  if (n < 4) return points.map((_, i) => [i, 0]);
  const umap = new UMAP({ nComponents: 2, nNeighbors: Math.min(15, n - 1), minDist: 0.1, random: seededRandom(seed) });
  return umap.fit(points.map((p) => Array.from(p))).map((c) => [c[0], c[1]] as [number, number]);
}

function excerptOf(text: string, at: number): string {
  const from = Math.max(0, at - 30);
  const s = text.slice(from, from + 120).replace(/\s+/g, ' ').trim();
  return (from > 0 ? '…' : '') + s + (from + 120 < text.length ? '…' : '');
}

/** Every generate assay's phenotypes (or the one named). */
export async function phenotypeFamilies(store: Store, o: PhenotypeOptions, assayName?: string): Promise<AssayPhenotypes[]> {
  const db = store.db;
  const seed = o.seed ?? 1;
  const assays = store.assays().filter((a) => a.type === 'generate' && (!assayName || a.name === assayName));
  const out: AssayPhenotypes[] = [];
  let tf: Transformer | undefined;
  let note: string | undefined = o.noEmbed ? 'embeddings skipped (--no-embed)' : undefined;
  if (!o.noEmbed && assays.length) {
    const screen = store.screen();
    const path = o.model ?? screen.modelPath;
    try {
      // the tokenizer the screen named, unless another model is given
      let fp = '';
      const opened = await openTransformer(path, { tokenizer: o.tokenizer ?? (o.model ? undefined : screen.tokenizerPath), backend: o.backend, onModel: (m) => {
        fp = modelFingerprint(m.source.files);
        if (fp !== screen.modelFingerprint) throw new MismatchedModel();
      } }).catch((e) => {
        if (e instanceof MismatchedModel) return undefined;
        throw e;
      });
      if (!opened) note = `the model at ${path} is not the store's (fingerprint ${fp.slice(0, 12)}…): no embeddings; pass --model with the screen's model`;
      else tf = opened.tf;
    } catch (e) {
      note = `the screen's model could not be loaded (${(e as Error).message}): no embeddings; pass --model (and --tokenizer) with this machine's copy`;
    }
  }
  const members = db.prepare(
    `SELECT r.phenotype_id AS id, t.short AS target, t.layer AS layer, count(*) AS n FROM results r JOIN mutants m ON m.id = r.mutant_id JOIN targets t ON t.id = m.target_id
     WHERE r.assay_id = ? AND r.phenotype_id IS NOT NULL GROUP BY r.phenotype_id, t.id ORDER BY r.phenotype_id, n DESC, t.id`,
  );
  for (const a of assays) {
    const promptIds = a.promptIds as number[];
    const styler = stylerFor(a);
    const rows = db.prepare('SELECT id, ids_json, text, diverge_at FROM phenotypes WHERE assay_id = ? ORDER BY id').all(a.id) as { id: number; ids_json: string; text: string; diverge_at: number }[];
    const where = new Map<number, { target: string; layer: number | null; mutants: number }[]>();
    for (const m of members.all(a.id) as { id: number; target: string; layer: number | null; n: number }[]) {
      let l = where.get(m.id);
      if (!l) where.set(m.id, (l = []));
      l.push({ target: m.target, layer: m.layer, mutants: m.n });
    }
    // phenotypes no stored result points at (left by a repair, or a rolled-back batch) are not families
    const used = rows.filter((r) => where.has(r.id));
    const ids = used.map((r) => JSON.parse(r.ids_json) as number[]);
    let embeddings: Float32Array[] | undefined;
    let base: Float32Array | undefined;
    if (tf) {
      embeddings = embedOutputs(tf, promptIds, ids);
      [base] = embedOutputs(tf, promptIds, [a.baseline.ids]);
    }
    const reduced = embeddings && project(embeddings, seed);
    const clusters = reduced ? cluster(reduced, seed) : undefined;
    const coords = reduced ? layout(reduced, seed) : undefined;
    const families = used.map((r, i): PhenotypeFamily => {
      const label = styler(ids[i], r.text);
      const targets = where.get(r.id)!;
      return {
        id: r.id, assay: a.name, mutants: targets.reduce((s, t) => s + t.mutants, 0), styles: label.styles, likeBaseline: label.likeBaseline,
        cluster: clusters ? clusters.labels[i] : null,
        similarity: embeddings && base ? cosine(embeddings[i], base) : null,
        x: coords ? coords[i][0] : null, y: coords ? coords[i][1] : null,
        divergentWord: wordAt(r.text, r.diverge_at), baselineWord: wordAt(a.baseline.text, r.diverge_at),
        excerpt: excerptOf(r.text, r.diverge_at), text: r.text, nTokens: ids[i].length,
        targets, layers: [...new Set(targets.map((t) => t.layer).filter((l): l is number => l !== null))].sort((x, y) => x - y),
      };
    });
    families.sort((p, q) => q.mutants - p.mutants || p.id - q.id);
    out.push({ assay: a.name, baseline: { text: a.baseline.text, styles: styler(a.baseline.ids, a.baseline.text).styles }, families, clusters: clusters?.k ?? 0, note });
  }
  return out;
}
