// npm run check:libm — how often glibc's float32 cosf/sinf/powf/expf (used by llama2.c's run.c) differ from the
// correctly rounded values mutascan uses. This explains why mutascan's logits match run.c's to ~1e-5, not bit for bit.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'mutascan-libm-'));
const exe = join(tmp, 'libm-values');
execFileSync('gcc', ['-O2', join(here, 'libm-values.c'), '-o', exe, '-lm']);
const out = execFileSync(exe, { maxBuffer: 1 << 28 }).toString();
rmSync(tmp, { recursive: true, force: true });
const f = Math.fround;
const hex = (s) => {
  const m = /^(-?)0x([0-9a-f])\.?([0-9a-f]*)p([+-]\d+)$/.exec(s);
  if (!m) throw new Error(`cannot parse ${s}`);
  return (m[1] ? -1 : 1) * (parseInt(m[2] + m[3], 16) / 16 ** m[3].length) * 2 ** parseInt(m[4]);
};
let rope = 0, ropeDiff = 0, freqDiff = 0, exps = 0, expDiff = 0;
for (const line of out.split('\n')) {
  const p = line.split(' ');
  if (p[0] === 'r') {
    const freq = f(1 / f(Math.pow(10000, f(+p[2] / 8))));
    if (freq !== hex(p[3])) freqDiff++;
    const val = f(+p[1] * freq);
    if (f(Math.cos(val)) !== hex(p[5]) || f(Math.sin(val)) !== hex(p[6])) ropeDiff++;
    rope++;
  } else if (p[0] === 'e') {
    if (f(Math.exp(hex(p[1]))) !== hex(p[2])) expDiff++;
    exps++;
  }
}
console.log(`RoPE cos/sin pairs: ${ropeDiff} of ${rope} differ from correctly rounded (powf: ${freqDiff} differ)`);
console.log(`expf: ${expDiff} of ${exps} differ from correctly rounded`);
