// Builds the native backend (native/binding.gyp) with node-gyp against this machine's Node headers.
// A failed build is reported in one line and does not fail the install: mutascan then runs on its TypeScript
// backend, and `npm run build:native` shows the full compiler output.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const verbose = process.argv.includes('--verbose');
const require = createRequire(import.meta.url);
// the project's node-gyp where it is installed (a checkout), else the one npm runs install scripts with
const gyp = (() => {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return process.env.npm_config_node_gyp;
  }
})();
if (!gyp) {
  console.log('mutascan: native backend NOT built (no node-gyp found); mutascan will use the TypeScript backend');
  process.exit(process.argv.includes('--strict') ? 1 : 0);
}
const args = [gyp, 'rebuild', '-j', '2'];
// Use the installed headers rather than downloading them (the machine has no network but the registries).
const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
if (nodedir) args.push(`--nodedir=${nodedir}`);
const r = spawnSync(process.execPath, args, { cwd: join(root, 'native'), encoding: 'utf8', stdio: verbose ? 'inherit' : 'pipe' });
if (r.status === 0) {
  console.log('mutascan: native backend built (native/build/Release/mutascan_native.node)');
} else {
  const lines = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').filter((l) => /error/i.test(l)).slice(0, 5);
  console.log(`mutascan: native backend NOT built; mutascan will use the TypeScript backend. Needs libopenblas-dev and libdnnl-dev (bash scripts/install.sh); details: npm run build:native -- --verbose\n${lines.join('\n')}`);
  if (process.argv.includes('--strict')) process.exit(1);
}
