/**
 * The two references made from the code itself, so that they cannot drift from what is accepted:
 * docs/screen-file.md (and its JSON Schema) from the screen file's zod schema, docs/cli-reference.md from the
 * commander program. `npm run docs:reference` writes them; test/docs-reference.test.ts fails when they are stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Argument, Command, Option } from 'commander';
import { buildProgram } from '../src/cli/main.js';
import { screenFileJsonSchema } from '../src/spec/spec.js';
import { VERSION } from '../src/version.js';

type Schema = {
  type?: string; const?: unknown; enum?: unknown[]; anyOf?: Schema[]; oneOf?: Schema[]; items?: Schema; properties?: Record<string, Schema>;
  required?: string[]; description?: string; default?: unknown; minimum?: number; maximum?: number; minItems?: number; title?: string;
};

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (v: unknown): string => '`' + (typeof v === 'string' ? v : JSON.stringify(v).replace(/"(\w+)":/g, '$1: ').replace(/,/g, ', ')) + '`';

/** A schema as a person reads it: `all` or a list of text, a whole number ≥ 1, { block: … }. */
function typeOf(s: Schema): string {
  if (s.const !== undefined) return code(s.const);
  if (s.enum) return s.enum.map(code).join(' or ');
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(typeOf).join(' or ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'values'}${s.minItems ? ` (at least ${s.minItems})` : ''}`;
  if (s.type === 'object' && s.properties)
    return '`{ ' + Object.entries(s.properties).map(([k, v]) => `${k}${s.required?.includes(k) ? '' : '?'}: ${typeOf(v).replace(/`/g, '')}`).join(', ') + ' }`';
  const bound = s.minimum !== undefined ? ` ≥ ${s.minimum}` : '';
  const top = s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? ` ≤ ${s.maximum}` : '';
  if (s.type === 'integer') return `whole number${bound}${top}`;
  if (s.type === 'number') return `number${bound}${top}`;
  if (s.type === 'string') return 'text';
  return s.type ?? 'any';
}

function table(s: Schema): string[] {
  const rows = ['| key | required | value | default | meaning |', '|---|---|---|---|---|'];
  for (const [key, p] of Object.entries(s.properties ?? {}))
    rows.push(`| \`${key}\` | ${s.required?.includes(key) ? 'yes' : ''} | ${cell(key === 'assays' ? 'list of assays (below)' : typeOf(p))} | ${p.default === undefined ? '' : cell(typeof p.default === 'string' && p.default.includes(' ') ? p.default : code(p.default))} | ${cell(p.description ?? '')} |`);
  return rows;
}

export function screenFileReference(): string {
  const schema = screenFileJsonSchema() as Schema;
  const assays = (schema.properties?.assays.items?.oneOf ?? schema.properties?.assays.items?.anyOf ?? []) as Schema[];
  const out = [
    '# Screen file reference',
    '',
    `*Generated from the screen file's schema (src/spec/spec.ts) by \`npm run docs:reference\`, mutascan ${VERSION}. What it says`,
    'is what `mutascan run` accepts; docs/screens.md explains screens with examples. The same schema as JSON Schema:',
    '[screen-file.schema.json](screen-file.schema.json) (for editors that check YAML against one).*',
    '',
    'A screen file is YAML. Paths are relative to the file. Unknown keys are refused with the keys allowed there.',
    '',
    '## Top level',
    '',
    ...table(schema),
    '',
    '## Assays',
    '',
    'Each entry of `assays` is one of these, chosen by its `type`.',
  ];
  for (const a of assays) out.push('', `### ${a.title ?? a.properties?.type?.const}`, '', ...table(a));
  return out.join('\n') + '\n';
}

function optionRow(o: Option): string {
  const dflt = o.defaultValue === undefined ? '' : code(o.defaultValue);
  return `| \`${cell(o.flags)}\` | ${o.mandatory ? 'yes' : ''} | ${dflt} | ${cell(o.description)} |`;
}

function argumentText(a: Argument): string {
  const n = a.name() + (a.variadic ? '…' : '');
  return a.required ? `<${n}>` : `[${n}]`;
}

export function cliReference(program: Command = buildProgram()): string {
  const out = [
    '# Command-line reference',
    '',
    `*Generated from the commands themselves (src/cli/) by \`npm run docs:reference\`, mutascan ${VERSION}; \`mutascan`,
    '<command> --help` prints the same. docs/cli.md shows the commands at work.*',
    '',
    ...program.commands.map((c) => `- [\`${c.name()}\`](#mutascan-${c.name()}): ${c.description()}`),
  ];
  for (const c of program.commands) {
    const args = c.registeredArguments;
    out.push('', `## mutascan ${c.name()}`, '', c.description(), '', '```', `mutascan ${c.name()} ${[...args.map(argumentText), '[options]'].join(' ')}`, '```');
    if (args.length) out.push('', '| argument | meaning |', '|---|---|', ...args.map((a) => `| \`${argumentText(a)}\` | ${cell(a.description)} |`));
    const options = c.options.filter((o) => !o.hidden);
    if (options.length) out.push('', '| option | required | default | meaning |', '|---|---|---|---|', ...options.map(optionRow));
  }
  return out.join('\n') + '\n';
}

const docs = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs');
export const REFERENCES: Record<string, () => string> = {
  'screen-file.md': screenFileReference,
  'screen-file.schema.json': () => JSON.stringify(screenFileJsonSchema(), null, 2) + '\n',
  'cli-reference.md': () => cliReference(),
};

/** The references whose file differs from what the code makes now. */
export function staleReferences(): string[] {
  return Object.entries(REFERENCES).filter(([name, make]) => {
    try {
      return readFileSync(join(docs, name), 'utf8') !== make();
    } catch {
      return true;
    }
  }).map(([name]) => name);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--check')) {
    const stale = staleReferences();
    if (stale.length) {
      process.stderr.write(`stale: ${stale.map((n) => `docs/${n}`).join(', ')}; run npm run docs:reference\n`);
      process.exit(1);
    }
  } else for (const [name, make] of Object.entries(REFERENCES)) writeFileSync(join(docs, name), make());
}
