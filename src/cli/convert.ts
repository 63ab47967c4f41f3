import type { Command } from 'commander';
import { openModel, type OpenedModel } from '../index.js';

type Dtype = 'F32' | 'F16' | 'BF16' | undefined;

function dtypeOption(v: string | undefined, error: (m: string) => never): Dtype {
  if (v === undefined) return undefined;
  const d = v.toUpperCase();
  if (d !== 'F32' && d !== 'F16' && d !== 'BF16') error(`error: --dtype must be f32, f16 or bf16, got "${v}"`);
  return d as Dtype;
}

/** Writes the model to `out`: a .gguf file (for llama.cpp and Ollama), anything else a Hugging Face folder. */
function write(model: OpenedModel, out: string, dtype: Dtype): string {
  const w = model.save(out, { dtype });
  return w.format === 'gguf' ? `wrote ${out} (GGUF, ${w.architecture} architecture)` : `wrote ${out} (config.json, generation_config.json, model.safetensors, tokenizer files)`;
}

/** `convert` and `mutate`: a model in, a model file out, with the mutants given (none for convert) applied. */
function modelWriter(program: Command, name: string, description: string, withMutants: boolean): void {
  const c = program.command(name).description(description).argument('<model>', 'llama2.c .bin checkpoint, Hugging Face model folder or .gguf file');
  if (withMutants) c.requiredOption('--mutant <key...>', 'a mutant key such as 1.down:2533,7890+1x1:zero, in the coordinates of MODEL (as stores and exports print them)');
  c.requiredOption('--out <path>', 'file.gguf, or a folder to write')
    .option('--tokenizer <file>', 'llama2.c tokenizer.bin (default: beside a .bin model)')
    .option('--dtype <type>', "the matrices' type in the output: f32, f16 or bf16 (default: the model's)")
    .action(async (modelPath: string, o: { mutant?: string[]; out: string; tokenizer?: string; dtype?: string }) => {
      const dtype = dtypeOption(o.dtype, program.error.bind(program));
      const model = await openModel(modelPath, { tokenizer: o.tokenizer, backend: 'ts' });
      for (const key of o.mutant ?? []) model.mutate(key);
      process.stdout.write(write(model, o.out, dtype) + (o.mutant ? ` with ${o.mutant.join(' + ')}` : '') + '\n');
    });
}

export function registerConvert(program: Command): void {
  modelWriter(program, 'convert', 'write a model (llama2.c .bin, Hugging Face folder or .gguf) as a GGUF file (OUT ending in .gguf) or a Hugging Face folder', false);
  modelWriter(program, 'mutate', 'write one mutant (or several applied together) as a model file, to run it in llama.cpp, Ollama or transformers', true);
}
