/**
 * mutascan as a library: `import { openModel, runScreen, openResults } from 'mutascan'`. The objects a researcher
 * works with — a model to run and mutate, a screen to run, a store of results to read — over the same code the
 * command line runs (the CLI is a client of exactly this module). Failures a person can act on are
 * `MutascanError`s carrying the messages the CLI prints. docs/api.md walks through it; test/api.test.ts runs that
 * walk-through as written.
 */
import { serveStores, type LiveServer, type ServeOptions } from './serve/server.js';
import { serveInThread as inThread, type ServeThread } from './serve/thread.js';
import { readToken } from './serve/access.js';

export { MutascanError, fail } from './errors.js';
export { StoreDamaged } from './store/health.js';
export { VERSION } from './version.js';
export { OpenedModel, openModel, synthModel, SYNTH_ARCHITECTURES, type AppliedMutant, type GenerateOptions, type OpenOptions, type SynthOptions } from './api/model.js';
export { runScreen, predictScreen, estimateScreen, runWorker, thresholdScreen, type EstimateOptions, type ScreenOptions, type ScreenSummary, type ThresholdScreenOptions } from './api/screen.js';
export type { UnitThreshold, ThresholdStatus } from './screen/threshold.js';
export { Results, openResults, withResults, writeStoreReport, phenotypeCsv, surveyStore, repairStore, type PhenotypeOptions, type ResultRow, type StoreStatus, type AssayPhenotypes, type Salvage } from './api/results.js';
export { machineInfo } from './api/machine.js';
export { machinesWithin } from './screen/estimate.js';
export type { Model } from './model/model.js';
export type { ModelConfig } from './model/config.js';
export type { Matrix, ModelWeights } from './model/weights.js';
export type { Generation, GenerateSettings } from './model/generate.js';
export type { SuperWeight } from './make/plant.js';
export type { SuperCandidate } from './predict/scout.js';
export type { PredictSummary, AssayPredictionSummary } from './predict/to-store.js';
export type { MissedEstimate } from './store/predictions.js';
export type { Estimate, TargetSample } from './screen/estimate.js';
export type { WorkerOptions } from './scale/worker.js';
export type { Mutant, Target } from './screen/plan.js';
export type { RunSummary } from './screen/runner.js';
export type { ScreenFile } from './spec/spec.js';
export { canonicalName, mutantName, parseMutantName, type SingleName } from './spec/mutant-name.js';
export { SCORE_MEANING, type PairSummary, type ReplicateSummary, type ScoreName, type ScoreRow } from './store/scores.js';
export type { LiveServer, ServeOptions, ServeThread };

/** Serves the live page of one or more stores (`mutascan serve`); `close()` on the result stops it. */
export function serve(o: ServeOptions): Promise<LiveServer> {
  return serveStores(o);
}

/**
 * The same in a worker thread of this process, so that a screen computing here does not hold the page up
 * (`mutascan run --serve`).
 */
export function serveInThread(o: Omit<ServeOptions, 'log'>, log: (line: string) => void): Promise<ServeThread> {
  return inThread(o, log);
}

/** The live page's access token from a value or a file (never from the command line's history if a file is given). */
export function serveToken(o: { token?: string; tokenFile?: string }): string | undefined {
  return readToken(o);
}
