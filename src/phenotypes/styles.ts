/**
 * Style labels of an output, by rules a person can check by eye (documented in docs/phenotypes.md and tested on
 * hand-written texts in test/phenotype-styles.test.ts). Several may apply. They describe the text's form, not its
 * meaning: "poetic" is short lines that rhyme or repeat their openings, not a judgement of poetry.
 */

export const STYLES = ['poetic', 'conversational', 'list', 'code', 'repetitive', 'truncated', 'other-language', 'non-text'] as const;
export type Style = (typeof STYLES)[number];

/** The rule of each style, in words (the report's legend and the docs quote these). */
export const STYLE_RULES: Record<Style, string> = {
  poetic: 'at least 3 non-empty lines, two thirds of them at most 45 characters, not a list; and 2 pairs of rhyming line ends (the same last two letters, different words), or 2 lines opening with the same word, or 4 or more such lines',
  conversational: 'a chat marker (a line opening "User:", "Assistant:", "Human:", "Q:", "A:", or <|…|>, [INST]); or two of: quoted speech, first and second person (I, me, my, we, you, your … at least 2 and 5 % of the words), a question mark, a greeting (hello, hi, hey, dear, thank you, good morning …)',
  list: 'at least 2 lines opening with a bullet (-, *, •) or an enumerator (1. 2) a.)',
  code: 'a ``` fence, or at least 2 lines that look like code (ending in ; { or }, opening with def, class, function, return, import, #include, for/while/if followed by ( or :, or holding => == != ++ ::)',
  repetitive: 'at least 8 words and fewer than 35 % of them distinct; or a run of 1–8 words repeated 3 times in a row covering 40 % of the words; or a stretch of 1–8 characters repeated 5 times in a row covering 40 % of the characters',
  truncated: "the output stopped (a stop token) before the assay's length budget, and is at most three quarters as long as the baseline's",
  'other-language': "at least 10 letters, 20 % of them outside the Latin script; or at least 8 words, 5 distinct, of Latin letters with under 8 % of them common English function words",
  'non-text': 'empty; or at least 5 visible characters of which under half are letters; or 3 or more replacement characters (bytes that are no text)',
};

export interface StyleInput {
  text: string;
  /** generated tokens */
  nTokens: number;
  /** the output ended with a stop token before its budget */
  stopped: boolean;
}

const WORD = /\p{L}+(?:['’]\p{L}+)*/gu;
const BULLET = /^\s*(?:[-*•]|\d{1,3}[.)]|[a-zA-Z][.)])\s+\S/;
const PERSON = new Set(['i', 'me', 'my', 'mine', 'we', 'us', 'our', 'ours', 'you', 'your', 'yours', "i'm", "you're", "we're", "i'll", "you'll"]);
const GREETING = /\b(?:hello|hi|hey|dear|thank you|thanks|good (?:morning|afternoon|evening|night)|goodbye|bye)\b/i;
const CHAT = /^\s*(?:user|assistant|human|ai|system|q|a)\s*:|<\|[^|>]{1,20}\|>|\[\/?INST\]/im;
const QUOTED = /"[^"\n]{1,200}"|“[^”\n]{1,200}”/;
const CODE_LINE = /[;{}]\s*$|^\s*(?:def|class|function|return|import|#include)\b|^\s*(?:for|while|if)\s*[(:]|^\s*(?:for|while|if)\b.*:\s*$|=>|==|!=|\+\+|::/;
const ENGLISH = new Set(
  'the a an and or but of to in on at for with from by is was are were be been it he she they his her their them this that there then so as not no do did have had will would can could said one all up out very'.split(' '),
);

function lines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
}

function words(text: string): string[] {
  return (text.match(WORD) ?? []).map((w) => w.toLowerCase());
}

function isPoetic(ls: string[]): boolean {
  if (ls.length < 3) return false;
  if (ls.filter((l) => BULLET.test(l)).length >= 2) return false;
  if (ls.filter((l) => l.length <= 45).length * 3 < ls.length * 2) return false;
  const ends = ls.map((l) => words(l).at(-1) ?? '');
  let rhymes = 0;
  for (let i = 0; i < ends.length; i++)
    for (const j of [i + 1, i + 2])
      if (j < ends.length && ends[i].length >= 2 && ends[j].length >= 2 && ends[i] !== ends[j] && ends[i].slice(-2) === ends[j].slice(-2)) rhymes++;
  const openings = new Map<string, number>();
  for (const l of ls) {
    const w = words(l)[0];
    if (w) openings.set(w, (openings.get(w) ?? 0) + 1);
  }
  const anaphora = Math.max(0, ...openings.values()) >= 2;
  return rhymes >= 2 || anaphora || ls.length >= 4;
}

function isConversational(text: string, ws: string[]): boolean {
  if (CHAT.test(text)) return true;
  const person = ws.filter((w) => PERSON.has(w)).length;
  const signals = [QUOTED.test(text), person >= 2 && person >= 0.05 * ws.length, text.includes('?'), GREETING.test(text)];
  return signals.filter(Boolean).length >= 2;
}

/** Longest share of `seq` covered by one unit of 1–maxUnit items repeated at least `minReps` times in a row. */
function repeatedShare<T>(seq: T[], maxUnit: number, minReps: number): number {
  let best = 0;
  for (let n = 1; n <= maxUnit; n++)
    for (let start = 0; start + n * minReps <= seq.length; start++) {
      let reps = 1;
      while (start + (reps + 1) * n <= seq.length && seq.slice(start + reps * n, start + (reps + 1) * n).every((x, k) => x === seq[start + k])) reps++;
      if (reps >= minReps) best = Math.max(best, (reps * n) / seq.length);
    }
  return best;
}

function isRepetitive(text: string, ws: string[]): boolean {
  if (ws.length >= 8 && new Set(ws).size < 0.35 * ws.length) return true;
  if (ws.length >= 3 && repeatedShare(ws, 8, 3) >= 0.4) return true;
  const chars = [...text.replace(/\s+/g, '')];
  return chars.length >= 5 && repeatedShare(chars.slice(0, 400), 8, 5) >= 0.4;
}

function isOtherLanguage(text: string, ws: string[]): boolean {
  const letters = text.match(/\p{L}/gu) ?? [];
  if (letters.length >= 10 && letters.filter((c) => !/\p{Script=Latin}/u.test(c)).length >= 0.2 * letters.length) return true;
  const latin = ws.filter((w) => /^\p{Script=Latin}+(?:['’]\p{Script=Latin}+)*$/u.test(w));
  return latin.length >= 8 && new Set(latin).size >= 5 && latin.filter((w) => ENGLISH.has(w)).length < 0.08 * latin.length;
}

function isNonText(text: string): boolean {
  const visible = [...text.replace(/\s+/g, '')];
  if (visible.length === 0) return true;
  if (visible.filter((c) => c === '\uFFFD').length >= 3) return true;
  return visible.length >= 5 && visible.filter((c) => /\p{L}/u.test(c)).length < 0.5 * visible.length;
}

/** The styles of one output; `baseline` gives the length the truncation rule compares with. */
export function stylesOf(x: StyleInput, baseline?: StyleInput): Style[] {
  const ls = lines(x.text);
  const ws = words(x.text);
  const out: Style[] = [];
  if (isPoetic(ls)) out.push('poetic');
  if (isConversational(x.text, ws)) out.push('conversational');
  if (ls.filter((l) => BULLET.test(l)).length >= 2) out.push('list');
  if (/```/.test(x.text) || ls.filter((l) => CODE_LINE.test(l)).length >= 2) out.push('code');
  if (isRepetitive(x.text, ws)) out.push('repetitive');
  if (x.stopped && (!baseline || x.nTokens * 4 <= baseline.nTokens * 3)) out.push('truncated');
  if (isOtherLanguage(x.text, ws)) out.push('other-language');
  if (isNonText(x.text)) out.push('non-text');
  return out;
}

/** Styles of a phenotype and whether they are exactly the baseline's ("like the baseline"). */
export function labelStyles(x: StyleInput, baseline: StyleInput): { styles: Style[]; likeBaseline: boolean } {
  const styles = stylesOf(x, baseline);
  const base = stylesOf(baseline);
  return { styles, likeBaseline: styles.length === base.length && styles.every((s) => base.includes(s)) };
}
