// Copies the README's figures from the main job's report (`npm run demo` writes it) into docs/figures/.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'out', 'stories260K-element-report', 'figures');
const to = join(root, 'docs', 'figures');
const names = ['maps-once', 'map-once-3.gate', 'map-sorted-once-3.gate', 'layers-once', 'enrichment-once', 'complementarity-once', 'words-divergent-once'];
if (!existsSync(from)) {
  console.error(`docs:figures: ${from} does not exist — run \`npm run demo\` first`);
  process.exit(1);
}
mkdirSync(to, { recursive: true });
for (const n of names) copyFileSync(join(from, `${n}.png`), join(to, `${n}.png`));
console.log(`copied ${names.length} figures into ${to}`);
