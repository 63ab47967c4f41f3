/**
 * A model file opened for running: the weights, tokenizer and defaults (model.ts) under a transformer on the
 * chosen backend. The one place a file becomes something that computes.
 */
import { selectBackend } from '../backend/select.js';
import { Transformer } from './forward.js';
import { loadModel, type Model } from './model.js';

export interface OpenedTransformer {
  model: Model;
  tf: Transformer;
}

export interface TransformerOptions {
  /** a llama2.c tokenizer.bin, for .bin checkpoints without one beside them */
  tokenizer?: string;
  /** auto (native where it is built), ts or native */
  backend?: string;
  threads?: number;
  /** sees the model once it is loaded, before the backend starts (a worker checks the file's fingerprint there) */
  onModel?(model: Model): void;
}

export async function openTransformer(path: string, o: TransformerOptions = {}): Promise<OpenedTransformer> {
  const model = loadModel(path, { tokenizer: o.tokenizer });
  o.onModel?.(model);
  return { model, tf: new Transformer(model.config, model.weights, await selectBackend(o.backend, o.threads)) };
}
