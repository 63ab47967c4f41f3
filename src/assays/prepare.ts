/**
 * The assays of a screen, prepared for one model: prompts encoded, questions chosen, baselines computed on the
 * unmutated model. Generate assays come first, since a likelihood assay may read their baselines.
 */
import { fail } from '../errors.js';
import type { Transformer } from '../model/forward.js';
import type { Model } from '../model/model.js';
import type { ScreenSpec } from '../spec/spec.js';
import type { PassAssay } from './assay.js';
import { ChoiceAssay } from './choice.js';
import { GenerateAssay } from './generate.js';
import { LikelihoodAssay, type LikelihoodText } from './likelihood.js';

export type Assay = GenerateAssay | PassAssay;

export function prepareAssays(spec: ScreenSpec, model: Model, tf: Transformer): Assay[] {
  const out: (Assay | undefined)[] = spec.assays.map(() => undefined);
  spec.assays.forEach((a, i) => {
    if (a.type !== 'generate') return;
    const g = new GenerateAssay(a, model, a.where);
    g.setBaseline(tf);
    out[i] = g;
  });
  spec.assays.forEach((a, i) => {
    if (a.type === 'choice') out[i] = new ChoiceAssay(a, model, tf, a.where);
    else if (a.type === 'likelihood') {
      const texts: LikelihoodText[] = a.texts.map((t) => ({ label: t, ids: model.tokenizer.encode(t, { bos: true }) }));
      for (const n of a.baselineOf) {
        const g = out.find((x) => x?.name === n) as GenerateAssay;
        texts.push({ label: `baseline of ${n} (from the prompt's last token)`, ids: [...g.promptIds, ...g.baseline.ids], from: g.promptIds.length - 1 });
      }
      for (const t of texts)
        if (t.ids.length > model.config.maxSeqLen)
          fail(`assay "${a.name}": the text "${t.label.slice(0, 40)}${t.label.length > 40 ? '…' : ''}" is ${t.ids.length} tokens, longer than the model's context (${model.config.maxSeqLen})`, a.where, 'shorten the text');
      out[i] = new LikelihoodAssay(a, model, texts, tf);
    }
  });
  return out as Assay[];
}
