/**
 * Checkpoint tensors memory-mapped instead of read: a 13.5 GB bf16 model costs no heap, loads in a moment, and
 * pages come in as the forward pass first touches them (and are shared by every process on the machine that maps
 * the same file). The mapping is private: mutating a weight copies the page it sits on and never writes the file.
 * Needs the native addon; without it, or for a tensor the mapping cannot serve as-is (F16, which is widened, or
 * a misaligned offset), the loader reads the tensor into memory instead.
 */
import { loadAddon } from '../backend/native-backend.js';
import type { TensorInfo } from './safetensors.js';

const ELEMENT = { F32: 4, BF16: 2, F16: 2 } as const;

/** Whether tensors can be mapped here (MUTASCAN_MMAP=0 turns mapping off). */
export function mappingAvailable(): boolean {
  if (process.env.MUTASCAN_MMAP === '0') return false;
  try {
    return typeof loadAddon().mapTensors === 'function';
  } catch {
    return false;
  }
}

/** Maps the tensors it can (one mapping per file); returns their typed arrays by name. */
export function mapTensors(infos: TensorInfo[]): Map<string, Float32Array | Uint16Array> {
  const out = new Map<string, Float32Array | Uint16Array>();
  const byFile = new Map<string, TensorInfo[]>();
  for (const t of infos) {
    if (t.start % ELEMENT[t.dtype] !== 0) continue;
    byFile.set(t.file, [...(byFile.get(t.file) ?? []), t]);
  }
  const addon = loadAddon();
  for (const [file, list] of byFile) {
    let buffers: ArrayBuffer[];
    try {
      buffers = addon.mapTensors(file, Float64Array.from(list, (t) => t.start), Float64Array.from(list, (t) => t.byteLength));
    } catch {
      // no mapping to be had (address space or the kernel's map areas used up): the loader reads these tensors
      continue;
    }
    list.forEach((t, i) => out.set(t.name, t.dtype === 'F32' ? new Float32Array(buffers[i]) : new Uint16Array(buffers[i])));
  }
  return out;
}
