/**
 * The choice assay: multiple-choice questions (MMLU layout), each asked with a k-shot prompt; a mutant's
 * phenotype is its vector of answers. Two scorings: `letters` (the highest logit among the four letters' first
 * tokens at the last position, the usual MMLU scoring) and `next-token` (the one token the model generates
 * after "Answer:", with the assay's sampling settings and seed, as the paper did: any token at all).
 */
import { fail } from '../errors.js';
import type { Transformer } from '../model/forward.js';
import type { Model } from '../model/model.js';
import { choose, coins, Rng, type Sampling } from '../model/sampler.js';
import { idsHash } from './classify.js';
import type { ChoiceAssaySpec } from '../spec/spec.js';
import { type Outcome, type PassAssay, type PassState, type Probe } from './assay.js';
import { choicePrompt, LETTERS, loadQuestionSet, type Question } from './mmlu.js';

export interface AskedQuestion {
  question: Question;
  shots: number;
  probe: Probe;
}

/** The id a tokenizer gives the letter right after "Answer:" (" A" in context: the letter's first token). */
function letterTokens(model: Model): number[] {
  const head = model.tokenizer.encode('Answer:', { bos: false });
  return LETTERS.map((l) => {
    const ids = model.tokenizer.encode(`Answer: ${l}`, { bos: false });
    let i = 0;
    while (i < head.length && ids[i] === head[i]) i++;
    if (i >= ids.length) fail(`the tokenizer gives no token for the answer letter ${l}`, model.source.path);
    return ids[i];
  });
}

/** Fisher–Yates with run.c's xorshift generator: a reproducible draw for a seed. */
function shuffled<T>(xs: T[], seed: number): T[] {
  const out = [...xs];
  const rng = new Rng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.nextU32() % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export class ChoiceAssay implements PassAssay {
  readonly type = 'choice' as const;
  readonly name: string;
  readonly notes: string[] = [];
  readonly asked: AskedQuestion[];
  readonly probes: Probe[];
  readonly baselineIds: number[];
  readonly baselineText: string;
  readonly baselineAccuracy: number;
  private readonly letters: number[];
  /** the letters' first tokens without repeats: the candidates `letters` scoring chooses among */
  readonly letterCandidates: number[];
  /** `next-token` scoring's sampling, and the coin every question uses */
  readonly sampling: Sampling;
  readonly coin: number;

  constructor(
    readonly spec: ChoiceAssaySpec,
    private readonly model: Model,
    tf: Transformer,
    where: string,
  ) {
    this.name = spec.name;
    this.letters = letterTokens(model);
    this.letterCandidates = [...new Set(this.letters)];
    if (spec.scoring === 'letters' && this.letterCandidates.length < 4) {
      const groups = LETTERS.filter((_, i) => this.letters.indexOf(this.letters[i]) !== i || this.letters.lastIndexOf(this.letters[i]) !== i);
      this.notes.push(`assay "${spec.name}": in this tokenizer the letters ${groups.join(', ')} begin with the same token ("${model.tokenizer.tokenText(this.letters[LETTERS.indexOf(groups[0])])}"), so letters scoring cannot tell them apart: such an answer counts as the first of them`);
    }
    this.sampling = { temperature: spec.temperature, topP: spec.topP, topK: spec.topK, seed: spec.seed };
    // Every question's one sampled token uses the first coin of the seed, as a generation seeded afresh would.
    this.coin = coins(spec.seed, 1)[0];
    const set = loadQuestionSet(spec.data, spec.subjects);
    const candidates: AskedQuestion[] = [];
    for (const [subject, tests] of set.test) {
      const dev = set.dev.get(subject) ?? [];
      if (spec.shots > dev.length)
        fail(`assay "${spec.name}": shots: ${spec.shots} is more than the ${dev.length} dev examples of subject "${subject}"`, where, `use shots: ${dev.length} or fewer`);
      if (tests.length === 0) fail(`assay "${spec.name}": subject "${subject}" has no test questions`, where);
      const pool = spec.select.type === 'first' ? tests.slice(0, spec.select.n) : tests;
      for (const q of pool) candidates.push(this.ask(q, dev.slice(0, spec.shots), where));
    }
    const dropped = candidates.filter((c) => c.shots < spec.shots).length;
    if (dropped) this.notes.push(`assay "${spec.name}": ${dropped} of ${candidates.length} prompts were too long for the context (${model.config.maxSeqLen} tokens) with ${spec.shots} shots; their first examples were dropped until they fit`);

    // The unmutated model's answers pick the MMLU21 set (and are the baseline).
    const answers = candidates.map((c) => this.baselineAnswer(tf, c.probe));
    let chosen = candidates.map((_, i) => i);
    if (spec.select.type === 'mmlu21') {
      chosen = [];
      const seed = spec.select.seed;
      for (const subject of set.test.keys()) {
        const mine = candidates.map((c, i) => i).filter((i) => candidates[i].question.subject === subject);
        const right = shuffled(mine.filter((i) => this.isRight(candidates[i].question, answers[i])), seed).slice(0, 14);
        const wrong = shuffled(mine.filter((i) => !this.isRight(candidates[i].question, answers[i])), seed).slice(0, 7);
        if (right.length < 14 || wrong.length < 7)
          this.notes.push(`assay "${spec.name}": subject "${subject}" gives ${right.length} questions the baseline answers right (of 14) and ${wrong.length} it answers wrong (of 7)`);
        chosen.push(...[...right, ...wrong].sort((a, b) => a - b));
      }
    }
    this.asked = chosen.map((i) => candidates[i]);
    this.probes = this.asked.map((a) => a.probe);
    this.baselineIds = chosen.map((i) => answers[i]);
    this.baselineText = this.answersText(this.baselineIds);
    this.baselineAccuracy = this.accuracy(this.baselineIds);
  }

  /** A question's prompt, its first shots dropped while it does not fit the context. */
  private ask(q: Question, shots: Question[], where: string): AskedQuestion {
    for (let k = shots.length; k >= 0; k--) {
      const ids = this.model.tokenizer.encode(choicePrompt(q.subject, shots.slice(shots.length - k), q), { bos: true });
      if (ids.length <= this.model.config.maxSeqLen) return { question: q, shots: k, probe: { ids, from: ids.length - 1 } };
    }
    return fail(`assay "${this.spec.name}": the question ${q.source} is longer than the model's context (${this.model.config.maxSeqLen} tokens) even with no examples`, where, 'choose other questions or a model with a longer context');
  }

  /** The unmutated model's answer to one candidate question. */
  private baselineAnswer(tf: Transformer, probe: Probe): number {
    const s = this.state([probe]);
    s.accept(0, tf.forward([{ cache: tf.newCache(probe.ids.length), tokens: probe.ids }], { from: probe.from }), 0);
    return s.answers[0];
  }

  get sampled(): boolean {
    return this.spec.scoring === 'next-token' && this.spec.temperature > 0;
  }

  get settingsJson(): string {
    const s = this.spec;
    return JSON.stringify({
      data: s.data, subjects: s.subjects ?? null, shots: s.shots, scoring: s.scoring, select: s.select, temperature: s.temperature, top_p: s.topP, top_k: s.topK, seed: s.seed,
      questions: this.asked.map((a) => ({ source: a.question.source, subject: a.question.subject, answer: a.question.answer, shots: a.shots })),
    });
  }

  private isRight(q: Question, token: number): boolean {
    const i = this.letters.indexOf(token);
    if (i >= 0) return LETTERS[i] === q.answer;
    return this.model.tokenizer.tokenText(token).trim() === q.answer;
  }

  private accuracy(ids: number[]): number {
    return ids.length ? ids.filter((t, i) => this.isRight(this.asked[i].question, t)).length / ids.length : 0;
  }

  /** "1:B 2:A 3: the" — each question's answer as its token reads. */
  private answersText(ids: number[]): string {
    return ids.map((t, i) => `${i + 1}:${this.model.tokenizer.tokenText(t)}`).join(' ');
  }

  begin(): PassState {
    return this.state(this.probes);
  }

  private state(probes: Probe[]): PassState & { answers: number[] } {
    const vocab = this.model.config.vocabSize;
    const answers = new Array<number>(probes.length).fill(-1);
    let margin = Infinity;
    return {
      answers,
      accept: (p: number, logits: Float32Array, at: number) => {
        if (this.spec.scoring === 'letters') {
          // Letters whose first tokens coincide are one decision (the first such letter answers); the margin is
          // the gap to the best other distinct token.
          const distinct = this.letterCandidates;
          let best = distinct[0];
          for (const t of distinct) if (logits[at + t] > logits[at + best]) best = t;
          let second = -Infinity;
          for (const t of distinct) if (t !== best) second = Math.max(second, logits[at + t]);
          answers[p] = best;
          margin = Math.min(margin, logits[at + best] - second);
        } else {
          const c = choose(logits, this.sampling, this.coin, at, vocab);
          answers[p] = c.token;
          margin = Math.min(margin, c.margin);
        }
      },
      margin: () => margin,
      outcome: (tie: boolean) => this.classify(answers, tie),
    };
  }

  classify(answers: number[], tie: boolean): Outcome {
    const base = this.baselineIds;
    const accuracy = this.accuracy(answers);
    const metrics = { accuracy, accuracyChange: accuracy - this.baselineAccuracy };
    const first = answers.findIndex((t, i) => t !== base[i]);
    if (first < 0) return { silent: true, firstDivergence: null, similarity: 1, destructive: false, nTokens: answers.length, tie, metrics };
    const text = this.answersText(answers);
    const prefix = this.answersText(answers.slice(0, first));
    const at = prefix.length + (first > 0 ? 1 : 0) + `${first + 1}:`.length;
    return {
      silent: false,
      phenotype: {
        key: idsHash(answers),
        ids: [...answers],
        text,
        divergeAt: at,
        divergeEnd: at + this.model.tokenizer.tokenText(answers[first]).length,
        baselineEnd: at + this.model.tokenizer.tokenText(base[first]).length,
      },
      firstDivergence: first,
      similarity: answers.filter((t, i) => t === base[i]).length / answers.length,
      destructive: false,
      nTokens: answers.length,
      tie,
      metrics,
    };
  }
}
