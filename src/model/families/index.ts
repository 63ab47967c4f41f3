/** Every family mutascan runs, and how each format names it. */
import type { Family } from '../family.js';
import type { Architecture } from '../config.js';
import { gemma2 } from './gemma2.js';
import { gemma3 } from './gemma3.js';
import { llama } from './llama.js';
import { mistral } from './mistral.js';
import { olmo2 } from './olmo2.js';
import { phi3 } from './phi3.js';
import { qwen2 } from './qwen2.js';
import { qwen3 } from './qwen3.js';

export const FAMILIES: readonly Family[] = [llama, mistral, qwen2, qwen3, olmo2, gemma2, gemma3, phi3];

export function familyOfHfType(modelType: string): Family | undefined {
  return FAMILIES.find((f) => (f.hfTypes ?? [f.name]).includes(modelType));
}

/** The family a GGUF architecture opens as (`llama` files are Llama, whatever they were converted from). */
export function familyOfGguf(arch: string): Family | undefined {
  return FAMILIES.find((f) => f.gguf === arch);
}

export function family(name: Architecture): Family {
  const f = FAMILIES.find((x) => x.name === name);
  if (!f) throw new Error(`no family ${name}`);
  return f;
}
