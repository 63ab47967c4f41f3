/** This machine as mutascan sees it (`mutascan info`): what decides which kernels run and which bits come out. */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { selectBackend } from '../backend/select.js';
import { VERSION } from '../version.js';

/** The CPU's model name and the flags the kernels choose by (from /proc/cpuinfo where there is one). */
function cpu(): { model: string; flags: string[] } {
  const wanted = ['avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512_bf16', 'amx_tile', 'amx_bf16'];
  let flags: string[] = [];
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    const have = new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
    flags = wanted.filter((f) => have.has(f));
  } catch {
    // not Linux: the model name alone
  }
  return { model: cpus()[0]?.model ?? 'unknown', flags };
}

/**
 * Version, CPU, backend and the numerics results carry; on the native backend also the instruction-set level,
 * the kernel of each product, threads and the libraries linked. Keys in the order `mutascan info` prints them.
 */
export async function machineInfo(o: { backend?: 'auto' | 'ts' | 'native' } = {}): Promise<Record<string, string | number>> {
  const backend = await selectBackend(o.backend);
  const c = cpu();
  const report: Record<string, string | number> = { version: VERSION, node: process.version, cpu: c.model, cpuFlags: c.flags.join(' '), backend: backend.name, numerics: backend.numerics() };
  if (backend.name === 'native') {
    const { loadAddon, kernelChoice } = await import('../backend/native-backend.js');
    const i = loadAddon().info();
    const kernels = kernelChoice();
    Object.assign(report, {
      level: i.isa,
      hostLevel: i.hostIsa,
      requestedLevel: process.env.MUTASCAN_ISA || 'auto',
      kernels,
      f32Product: kernels === 'exact' ? `row-exact ${i.f32exact}` : `OpenBLAS (1 row), oneDNN at ${i.onednnIsa}`,
      bf16Product: kernels === 'exact' || !i.onednnBf16 ? `row-exact ${i.bf16exact} (${i.bf16Numerics})` : `oneDNN at ${i.onednnIsa}`,
      f16Product: `row-exact ${i.f32exact}: float16 weights widened as they are read, the bits of the float32 product`,
      perPosition: i.isa === 'portable' ? 'scalar' : i.isa === 'avx2' ? 'AVX2' : 'AVX-512 (the AVX2 kernels\' bits)',
      threads: i.threads,
      openblas: i.openblas,
      onednn: `${i.onednn} (at ${i.onednnIsa}${i.onednnBf16 ? ', bf16 matmul' : ', no bf16 matmul'})`,
    });
  }
  return report;
}
