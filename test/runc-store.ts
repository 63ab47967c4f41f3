/**
 * A mutascan store filled with run.c's answers instead of our engine's: every mutant of a fixture screen
 * (../shared/models/stories260K/expected/) classified from the ids run.c generated. The report's tests read
 * it, so what they find in the maps comes from an independent implementation.
 */
import type { Outcome } from '../src/assays/assay.js';
import { openScreenStore, prepareScreen } from '../src/screen/runner.js';
import type { MutantResult } from '../src/store/store.js';
import { fixtureKey, loadFixtureScreen } from './fixture-compare.js';

export async function storeFromRunc(fixtureFile: string, specFile: string, storePath: string, keep?: (ordinal: number) => boolean): Promise<void> {
  const fx = loadFixtureScreen(fixtureFile);
  const byKey = new Map(fx.mutants.map((m) => [fixtureKey(m), m]));
  const p = await prepareScreen(specFile);
  if (p.assays.length !== 1) throw new Error('a run.c fixture screen has one assay');
  const assay = p.assays[0];
  if (JSON.stringify(assay.baseline.ids) !== JSON.stringify(fx.baseline.ids)) throw new Error(`${specFile} does not describe ${fixtureFile}: baselines differ`);
  const { store } = openScreenStore(p, storePath);
  try {
    let batch: MutantResult[] = [];
    for (let i = 0; i < p.plan.total; i++) {
      if (keep && !keep(i)) continue;
      let outcome: Outcome;
      if (i === 0) outcome = assay.classify(assay.baseline);
      else {
        const m = p.plan.mutant(i);
        const r = byKey.get(m.key);
        if (!r) throw new Error(`${m.key} is not in ${fixtureFile}`);
        outcome = assay.classify({ ids: r.silent ? fx.baseline.ids : r.ids!, margins: [] });
      }
      batch.push({ ordinal: i, outcomes: [outcome] });
      if (batch.length === 20000) {
        store.save(batch);
        batch = [];
      }
    }
    store.save(batch);
  } finally {
    store.close();
  }
}
