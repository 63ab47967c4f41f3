/**
 * Mutant names: how stores, exports, score tables and every command name a mutant. One grammar, parsed here
 * without a model (screen/plan.ts checks a name against one):
 *
 *   name    = single ( "+" single )*                 a multi-mutant: its singles applied together
 *   single  = target ":" row "," col [ "+" rows "x" cols ] ":" kind
 *   target  = layer "." part | "embed" | "final_norm" | "lm_head"
 *   kind    = max | min | zero | negate | value:<number> | scale:<number>
 *
 * `3.down:0,64+64x64:max` is the 64 × 64 block of layer 3's down projection at row 0, column 64, set to the
 * matrix's max; `3.down:5,7:zero` is one element (rows × cols omitted: 1 × 1). Rows and columns count from 0 in
 * the matrix as Hugging Face stores it (stores record the layout: docs/screens.md). A multi-mutant's singles
 * are written in a canonical order (compareSingles), so one set of mutations has one name.
 */
import { fail } from '../errors.js';
import { kindName, parseKind, type Kind } from './spec.js';

export interface SingleName {
  target: string;
  row: number;
  col: number;
  rows: number;
  cols: number;
  kind: Kind;
}

const TARGET = String.raw`(?:\d+\.[a-z_]+|embed|final_norm|lm_head)`;
const SINGLE = new RegExp(String.raw`^(${TARGET}):(\d+),(\d+)(?:\+(\d+)x(\d+))?:(.+)$`);
/** A "+" that starts another single (not the one before a size, nor one inside a number such as 1e+21). */
const JOIN = new RegExp(String.raw`\s*\+\s*(?=${TARGET}:)`);

const HELP = 'a mutant is named target:row,col+rows x cols:kind, e.g. 1.down:2533,7890+1x1:zero or 3.down:0,64+64x64:max (one element: 1.down:2533,7890:zero); join several with + (0.q:0,0:zero+4.up:3,9:max)';

/** The singles of a name, in the order written; `where` is where the name came from, for messages. */
export function parseMutantName(name: string, where = '--mutant'): SingleName[] {
  const text = name.trim();
  if (text === '') fail('an empty mutant name', where, HELP);
  return text.split(JOIN).map((part) => {
    const m = SINGLE.exec(part);
    if (!m) fail(`"${part}" is not a mutant name${part === text ? '' : ` (in "${text}")`}`, where, HELP);
    const [, target, row, col, rows, cols, kindText] = m;
    const kind = parseKind(kindText) ?? fail(`mutant "${part}": unknown kind "${kindText}"`, where, 'kinds: max | min | zero | negate | value:<number> | scale:<number>');
    const n = (s: string | undefined, dflt: number) => (s === undefined ? dflt : Number(s));
    const single = { target, row: Number(row), col: Number(col), rows: n(rows, 1), cols: n(cols, 1), kind };
    if (single.rows < 1 || single.cols < 1) fail(`mutant "${part}": a unit is at least 1 × 1`, where, HELP);
    if (![single.row, single.col, single.rows, single.cols].every(Number.isSafeInteger)) fail(`mutant "${part}": a coordinate is too large`, where);
    return single;
  });
}

/** The canonical name of one single (as the store's key column holds it). */
export function singleName(s: SingleName): string {
  return `${s.target}:${s.row},${s.col}+${s.rows}x${s.cols}:${kindName(s.kind)}`;
}

/** Layer by layer, then embed, final_norm, lm_head; within a target by row, column and kind. */
export function compareSingles(a: SingleName, b: SingleName): number {
  const rank = (t: string) => (/^\d+\./.test(t) ? Number(t.slice(0, t.indexOf('.'))) : 1e9 + ['embed', 'final_norm', 'lm_head'].indexOf(t));
  return rank(a.target) - rank(b.target) || (a.target < b.target ? -1 : a.target > b.target ? 1 : 0) || a.row - b.row || a.col - b.col || a.rows - b.rows || a.cols - b.cols || (kindName(a.kind) < kindName(b.kind) ? -1 : kindName(a.kind) > kindName(b.kind) ? 1 : 0);
}

/** The canonical name of a multi-mutant: its singles in canonical order, joined by "+". */
export function mutantName(singles: readonly SingleName[]): string {
  return [...singles].sort(compareSingles).map(singleName).join('+');
}

/** A name as anyone may write it (one element without its size, singles in any order), in its canonical form. */
export function canonicalName(name: string, where?: string): string {
  return mutantName(parseMutantName(name, where));
}
