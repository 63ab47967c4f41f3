/**
 * Multiple-choice questions in the MMLU csv layout (no header; question, A, B, C, D, answer letter), read from
 * a folder with dev/ and test/ (as Hendrycks et al. ship them) or from one csv, and the k-shot prompt of their
 * evaluation code (`format_subject`, `format_example`, `gen_prompt`).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { fail } from '../errors.js';

export const LETTERS = ['A', 'B', 'C', 'D'] as const;
export type Letter = (typeof LETTERS)[number];

export interface Question {
  subject: string;
  question: string;
  choices: [string, string, string, string];
  answer: Letter;
  /** file and 1-based record number, for messages and for the store */
  source: string;
}

/** Reads one csv; every record must have 6 fields and an answer in A–D. */
export function readQuestions(file: string, subject: string): Question[] {
  let records: string[][];
  try {
    records = parse(readFileSync(file, 'utf8'), { relax_column_count: true, skip_empty_lines: true }) as string[][];
  } catch (e) {
    fail(`cannot read the questions: ${(e as Error).message}`, file, 'questions are csv without a header: question, A, B, C, D, answer letter');
  }
  return records.map((r, i) => {
    const where = `${file}, record ${i + 1}`;
    if (r.length !== 6) fail(`a question has ${r.length} fields, not 6`, where, 'each line is: question, A, B, C, D, answer letter');
    const answer = r[5].trim();
    if (!(LETTERS as readonly string[]).includes(answer)) fail(`the answer "${answer}" is not one of A, B, C, D`, where);
    return { subject, question: r[0], choices: [r[1], r[2], r[3], r[4]], answer: answer as Letter, source: `${basename(file)}:${i + 1}` };
  });
}

export interface QuestionSet {
  /** subject → dev questions (the shots) */
  dev: Map<string, Question[]>;
  /** subject → test questions */
  test: Map<string, Question[]>;
}

const subjectOf = (file: string) => basename(file, '.csv').replace(/_(dev|test|val)$/, '');

/**
 * A folder with dev/ and test/ (files `<subject>_dev.csv`, `<subject>_test.csv`), or one csv (its questions are
 * the test questions of the subject its name gives; it has no dev examples).
 */
export function loadQuestionSet(path: string, subjects?: string[]): QuestionSet {
  if (!existsSync(path)) fail('no such question file or folder', path, 'give data: a folder with dev/ and test/, or one csv');
  const dev = new Map<string, Question[]>();
  const test = new Map<string, Question[]>();
  if (statSync(path).isFile()) {
    const s = subjectOf(path);
    test.set(s, readQuestions(path, s));
    dev.set(s, []);
  } else {
    const csvs = (dir: string) => (existsSync(join(path, dir)) ? readdirSync(join(path, dir)).filter((f) => f.endsWith('.csv')).sort() : []);
    const testFiles = csvs('test');
    if (testFiles.length === 0) fail('the question folder has no test/*.csv files', path, 'MMLU folders hold dev/<subject>_dev.csv and test/<subject>_test.csv');
    for (const f of testFiles) test.set(subjectOf(f), []);
    const wanted = subjects ?? [...test.keys()];
    for (const s of wanted) {
      if (!test.has(s)) fail(`no test questions for subject "${s}"`, join(path, 'test'), `subjects found: ${[...test.keys()].slice(0, 8).join(', ')}${test.size > 8 ? ', …' : ''}`);
      test.set(s, readQuestions(join(path, 'test', `${s}_test.csv`), s));
      const d = join(path, 'dev', `${s}_dev.csv`);
      dev.set(s, existsSync(d) ? readQuestions(d, s) : []);
    }
    for (const s of [...test.keys()]) if (!wanted.includes(s)) test.delete(s);
    return { dev, test };
  }
  if (subjects && !subjects.every((s) => test.has(s))) fail(`the csv holds subject "${[...test.keys()][0]}" only`, path, 'drop subjects: or name that subject');
  return { dev, test };
}

/** Hendrycks et al.'s format_subject: "global_facts" → " global facts". */
function formatSubject(subject: string): string {
  return subject.split('_').map((w) => ' ' + w).join('');
}

/** One question as the prompt shows it, with its answer (a shot) or ending in "Answer:" (the question asked). */
export function formatQuestion(q: Question, withAnswer: boolean): string {
  let s = q.question;
  q.choices.forEach((c, i) => (s += `\n${LETTERS[i]}. ${c}`));
  s += '\nAnswer:';
  return withAnswer ? `${s} ${q.answer}\n\n` : s;
}

export function choicePrompt(subject: string, shots: Question[], q: Question): string {
  return `The following are multiple choice questions (with answers) about${formatSubject(subject)}.\n\n${shots.map((x) => formatQuestion(x, true)).join('')}${formatQuestion(q, false)}`;
}
