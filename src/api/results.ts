/** A store of results, read: rows, status, exports, phenotypes, the report; and salvaging a damaged one. */
import { fail } from '../errors.js';
import { phenotypeFamilies, type AssayPhenotypes } from '../phenotypes/families.js';
import { PHENOTYPE_COLUMNS, phenotypeRecord } from '../phenotypes/record.js';
import { writeReport } from '../report/report.js';
import { csvCell, iterateExportRows, writeExport, type ExportRow } from '../store/export.js';
import { guardDamage, guardDamageAsync } from '../store/health.js';
import { predictionCounts, readEstimates, type MissedEstimate } from '../store/predictions.js';
import { repair, survey, type Salvage } from '../store/repair.js';
import { describeRun, isAlive, openRuns } from '../store/runs.js';
import { Store } from '../store/store.js';
import { assayGroups, pairSummary, replicateSummary, SCORES, scoreRows, type PairSummary, type ReplicateSummary, type ScoreRow } from '../store/scores.js';
import { describeParkedMutants, summarize, type AssaySummary, type ParkedBatch, type WorkerRecord } from '../store/summary.js';

/** One row per mutant and assay, with the columns `mutascan export` writes (docs: the store and exports). */
export type ResultRow = ExportRow;

/** What `mutascan status` prints, as data. */
export interface StoreStatus {
  total: number;
  done: number;
  assays: AssaySummary[];
  /** per assay, mutants predicted by `predict` and how many of them are predicted NSMs */
  predictions: { assay: string; predicted: number; nsms: number }[];
  /** what budgeted runs estimated they missed */
  estimates: (MissedEstimate & { budget: number; at: string })[];
  /** runs registered with the store: those alive are filling it, the others left claims the next run takes over */
  runs: { description: string; alive: boolean }[];
  workers: WorkerRecord[];
  /** batches of a distributed run that failed repeatedly, and the mutants they hold, in words */
  parked: (ParkedBatch & { mutants: string })[];
}

export interface PhenotypeOptions {
  /** only this generate assay */
  assay?: string;
  /** this machine's copy of the screen's model and tokenizer, for the embeddings (default: the paths in the store) */
  model?: string;
  tokenizer?: string;
  /** skip the embeddings, clusters and layout (no model needed) */
  noEmbed?: boolean;
  seed?: number;
  backend?: 'auto' | 'ts' | 'native';
}

/** A store's results, read-only. */
export class Results {
  private constructor(private readonly store: Store) {}

  static open(path: string): Results {
    return new Results(Store.open(path));
  }

  get path(): string {
    return this.store.path;
  }

  /** The screen the store holds: its file, model, backend, size, and how much of it is done. */
  get screen(): { specYaml: string; modelPath: string; backend: string; totalMutants: number; done: number; version: string } {
    return this.guard(() => {
      const s = this.store.screen();
      return { specYaml: s.specYaml, modelPath: s.modelPath, backend: s.backend, totalMutants: s.totalMutants, done: this.store.countDone(), version: s.version };
    });
  }

  /** Every row (mutant × assay), in plan order. */
  rows(): ResultRow[] {
    return this.guard(() => [...iterateExportRows(this.store)]);
  }

  /** The same, one at a time: `for await (const r of results)`. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ResultRow> {
    let n = 0;
    const rows = iterateExportRows(this.store);
    for (;;) {
      const next = this.guard(() => rows.next());
      if (next.done) return;
      yield next.value;
      // let timers and I/O run now and then on a long read
      if (++n % 10_000 === 0) await new Promise((done) => setImmediate(done));
    }
  }

  /**
   * Progress and counts per assay and matrix, predictions, estimates, runs, workers and parked batches, after
   * SQLite's quick check of the whole file (a damaged page anywhere is a StoreDamaged, not a wrong count).
   */
  status(): StoreStatus {
    return this.guard(() => {
      this.store.quickCheck();
      const s = summarize(this.store);
      return {
        ...s,
        predictions: predictionCounts(this.store),
        estimates: readEstimates(this.store),
        runs: openRuns(this.store).map((r) => ({ description: describeRun(r), alive: isAlive(r) })),
        parked: s.parked.map((b) => ({ ...b, mutants: describeParkedMutants(b) })),
      };
    });
  }

  /**
   * Writes every row as csv or parquet, or the score table (`scores`: one row per mutant and assay, replicates
   * together, docs/scores.md); returns the number of rows.
   */
  export(format: 'csv' | 'parquet' | 'scores', out: string, o: { assay?: string; score?: string } = {}): number {
    return this.guard(() => writeExport(this.store, format, out, o));
  }

  /** The score table's rows (an assay's replicates together): score, sd, se, interval, NSM fraction, per seed. */
  scores(o: { assay?: string; score?: string } = {}): (Omit<ScoreRow, 'replicates'> & { replicates: { seed: number | null; score: number | null }[] })[] {
    return this.guard(() =>
      [...scoreRows(this.store, o)].map(({ group, replicates, ...r }) => ({ ...r, replicates: replicates.map((score, i) => ({ seed: group.members[i].seed, score })) })),
    );
  }

  /** Per assay, its double mutants against their singles: synthetic NSMs, suppressors, additivity of log-likelihoods. */
  pairs(): PairSummary[] {
    return this.guard(() => assayGroups(this.store).flatMap((g) => pairSummary(this.store, g) ?? []));
  }

  /** How each assay's replicates agree: calls that flip between seeds, interval widths, correlations by target. */
  replicates(o: { score?: string } = {}): ReplicateSummary[] {
    // a score some assays lack applies to those that have it; the others keep their default
    const fits = (g: { type: keyof typeof SCORES }) => o.score !== undefined && o.score !== 'nsm' && (SCORES[g.type] as readonly string[]).includes(o.score);
    return this.guard(() => {
      const groups = assayGroups(this.store);
      if (o.score !== undefined && o.score !== 'nsm' && !groups.some(fits))
        fail(`no assay of the store has the score "${o.score}"`, '--score', `its assays' scores: ${[...new Set(groups.flatMap((g) => SCORES[g.type]))].join(', ')}`);
      return groups.map((g) => replicateSummary(this.store, g, fits(g) ? o.score : undefined));
    });
  }

  /** The phenotypes of the generate assays, largest families first, with styles and (unless noEmbed) clusters. */
  async phenotypes(o: PhenotypeOptions = {}): Promise<AssayPhenotypes[]> {
    return guardDamageAsync(this.store.path, () => {
      const generate = this.store.assays().filter((a) => a.type === 'generate');
      if (o.assay && !generate.some((a) => a.name === o.assay))
        fail(`no generate assay "${o.assay}" in the store`, this.store.path, `its generate assays: ${generate.map((a) => a.name).join(', ') || 'none'}`);
      return phenotypeFamilies(this.store, { model: o.model, tokenizer: o.tokenizer, noEmbed: o.noEmbed, seed: o.seed, backend: o.backend }, o.assay);
    });
  }

  /** Writes the HTML report, figures and tables into `dir` (`mutascan report`). */
  async writeReport(dir: string, o: { model?: string; tokenizer?: string; noEmbed?: boolean; onNote?(line: string): void } = {}): Promise<{ dir: string; figures: number; tables: number }> {
    const r = await guardDamageAsync(this.store.path, () => writeReport(this.store, dir, o.onNote, { model: o.model, tokenizer: o.tokenizer, noEmbed: o.noEmbed }));
    return { dir: r.dir, figures: r.figures, tables: r.tables };
  }

  close(): void {
    this.store.close();
  }

  private guard<T>(fn: () => T): T {
    return guardDamage(this.store.path, fn);
  }
}

/** Opens a store's results (see Results). */
export const openResults = Results.open;

/** Runs `fn` on the opened results and closes them, whatever happens. */
export async function withResults<T>(path: string, fn: (r: Results) => T | Promise<T>): Promise<T> {
  const r = Results.open(path);
  try {
    return await fn(r);
  } finally {
    r.close();
  }
}

/** Writes the HTML report, figures and tables of a store into `dir` (`mutascan report`). */
export function writeStoreReport(store: string, dir: string, o: { model?: string; tokenizer?: string; noEmbed?: boolean; onNote?(line: string): void } = {}): Promise<{ dir: string; figures: number; tables: number }> {
  return withResults(store, (r) => r.writeReport(dir, o));
}

/** Phenotype families as the csv `mutascan phenotypes` writes (one row per family). */
export function phenotypeCsv(all: readonly AssayPhenotypes[]): string {
  const lines = [PHENOTYPE_COLUMNS.join(',')];
  for (const a of all)
    for (const f of a.families) {
      const r = phenotypeRecord(f);
      lines.push(PHENOTYPE_COLUMNS.map((c) => csvCell(r[c])).join(','));
    }
  return lines.join('\n') + '\n';
}

/** What a damaged store still holds, and SQLite's quick check of it; reads only. */
export function surveyStore(path: string): Salvage {
  return survey(path);
}

/** Copies every readable result of a damaged store into a new one at `out`; the rest is pending again. */
export function repairStore(path: string, out: string): Salvage {
  return repair(path, out);
}

export type { AssayPhenotypes, Salvage };
