/**
 * A phenotype's embedding: what the unmutated model makes of the output, as the mean over the output's tokens
 * of the final normed residual (the classifier's input) when the model reads prompt + output. Outputs that
 * read alike to the model land close together whatever their exact tokens.
 */
import { KVCache, type Transformer } from '../model/forward.js';

/** Rows of one forward call: bounded so that a 7B model's activations stay small. */
const MAX_ROWS = 2048;

/** One unit-length embedding per output (an empty output: the prompt's last position). */
export function embedOutputs(tf: Transformer, prompt: readonly number[], outputs: readonly (readonly number[])[]): Float32Array[] {
  const c = tf.config;
  const dim = c.dim;
  const out: Float32Array[] = new Array(outputs.length);
  let i = 0;
  while (i < outputs.length) {
    const group: number[] = [];
    let rows = 0;
    while (i < outputs.length && (group.length === 0 || rows + prompt.length + outputs[i].length <= MAX_ROWS)) {
      rows += prompt.length + outputs[i].length;
      group.push(i++);
    }
    const seqs = group.map((k) => [...prompt, ...outputs[k]].slice(0, c.maxSeqLen));
    const normed = tf.forward(
      seqs.map((tokens) => ({ cache: KVCache.for(c, tokens.length), tokens })),
      'all',
      { classifierInput: true },
    );
    let at = 0;
    group.forEach((k, g) => {
      const n = seqs[g].length;
      const from = Math.min(prompt.length, n - 1);
      const e = new Float32Array(dim);
      for (let r = from; r < n; r++) for (let d = 0; d < dim; d++) e[d] += normed[(at + r) * dim + d];
      let norm = 0;
      for (let d = 0; d < dim; d++) norm += e[d] * e[d];
      norm = Math.sqrt(norm) || 1;
      for (let d = 0; d < dim; d++) e[d] /= norm;
      out[k] = e;
      at += n;
    });
  }
  return out;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let d = 0; d < a.length; d++) s += a[d] * b[d];
  return s;
}
