import type { Transformer } from '../model/forward.js';
import { checkLength, generateIds, promptIds, sampleBudget, type GenerateSettings } from '../model/generate.js';
import type { Model } from '../model/model.js';
import { fail, MutascanError } from '../errors.js';
import { precisionOf, tieEpsilon } from '../model/ties.js';
import { firstDivergence, idsHash, isDestructive, similarity } from './classify.js';
import type { GenerateAssaySpec } from '../spec/spec.js';
import type { GenerateRun, Outcome, PreparedAssay } from './assay.js';

/** A generate assay: prompt, optional chat template, sampling settings and seed, a length budget. */
export class GenerateAssay implements PreparedAssay {
  readonly type = 'generate' as const;
  readonly name: string;
  readonly settings: GenerateSettings;
  readonly promptIds: number[];
  readonly stopIds: number[];
  baseline!: GenerateRun;
  baselineText = '';
  /** a decision whose margin is below this could go the other way under another summation order */
  readonly tieEpsilon: number;

  constructor(
    readonly spec: GenerateAssaySpec,
    private readonly model: Model,
    where: string,
  ) {
    this.name = spec.name;
    this.settings = { temperature: spec.temperature, topP: spec.topP, topK: spec.topK, seed: spec.seed, maxLength: spec.maxLength, maxNewTokens: spec.maxNewTokens };
    try {
      this.promptIds = promptIds(model, spec.prompt, spec.chat);
      sampleBudget(this.promptIds.length, this.settings, model.config.maxSeqLen);
      checkLength(this.promptIds.length, this.settings, model.config.maxSeqLen);
    } catch (e) {
      if (e instanceof MutascanError) fail(`assay "${spec.name}": ${e.what}`, where, e.hint);
      throw e;
    }
    this.stopIds = model.config.stopIds;
    this.tieEpsilon = tieEpsilon(precisionOf(model.weights), this.settings.temperature > 0);
  }

  get settingsJson(): string {
    const s = this.spec;
    return JSON.stringify({ prompt: s.prompt, chat: s.chat, max_length: s.maxLength ?? null, max_new_tokens: s.maxNewTokens ?? null, temperature: s.temperature, top_p: s.topP, top_k: s.topK, seed: s.seed, preset: s.preset ?? null });
  }

  /** Number of tokens the assay samples at most. */
  get budget(): number {
    return sampleBudget(this.promptIds.length, this.settings, this.model.config.maxSeqLen);
  }

  run(tf: Transformer): GenerateRun {
    return generateIds(tf, this.promptIds, this.settings, this.stopIds);
  }

  setBaseline(tf: Transformer): void {
    this.baseline = this.run(tf);
    this.baselineText = this.model.tokenizer.decodeContinuation(this.promptIds, this.baseline.ids);
  }

  get baselineIds(): number[] {
    return this.baseline.ids;
  }

  text(ids: number[]): string {
    return this.model.tokenizer.decodeContinuation(this.promptIds, ids);
  }

  /**
   * `tie` is set when the caller re-checked a near-tie, and whenever any decision of the output, before or after
   * its divergence, has a margin below the tie epsilon: such an output is float-fragile (another summation order,
   * run.c's libm, another backend may give other ids from that step on).
   */
  classify(r: GenerateRun, recheck = false): Outcome {
    const tie = recheck || r.margins.some((m) => m < this.tieEpsilon);
    const base = this.baseline.ids;
    const d = firstDivergence(r.ids, base);
    if (d === -1) return { silent: true, firstDivergence: null, similarity: 1, destructive: false, nTokens: r.ids.length, tie };
    const text = this.text(r.ids);
    return {
      silent: false,
      phenotype: {
        key: idsHash(r.ids),
        ids: r.ids,
        text,
        divergeAt: this.text(r.ids.slice(0, d)).length,
        divergeEnd: this.text(r.ids.slice(0, d + 1)).length,
        baselineEnd: this.text(base.slice(0, d + 1)).length,
      },
      firstDivergence: d,
      similarity: similarity(r.ids, base),
      destructive: isDestructive(r.ids, text, this.stopIds),
      nTokens: r.ids.length,
      tie,
    };
  }
}
