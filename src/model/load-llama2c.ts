import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { fail } from '../errors.js';
import type { ModelConfig } from './config.js';
import { hfMatrixName, matrix, type LayerWeights, type ModelWeights } from './weights.js';

/** A llama2.c legacy checkpoint: 7 int32 header fields, then fp32 tensors (see README of stories260K). */
export interface Llama2cCheckpoint {
  config: ModelConfig;
  weights: ModelWeights;
}

export function readLlama2cHeader(file: string): { config: ModelConfig; fileSize: number; expectedSize: number } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    fail(`cannot open checkpoint: ${(e as Error).message}`, file);
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 28) fail(`checkpoint is ${size} bytes, too short for the 28-byte llama2.c header`, file, 'the file is truncated or not a llama2.c .bin');
    const h = Buffer.alloc(28);
    readSync(fd, h, 0, 28, 0);
    const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabRaw, seqLen] = Array.from({ length: 7 }, (_, i) => h.readInt32LE(i * 4));
    const fields = { dim, hidden_dim: hiddenDim, n_layers: nLayers, n_heads: nHeads, n_kv_heads: nKvHeads, seq_len: seqLen };
    for (const [k, v] of Object.entries(fields))
      if (!(v > 0 && v < 1 << 20)) fail(`header field ${k} = ${v} is not a plausible size`, file, 'is this a llama2.c legacy (version 0) checkpoint?');
    if (vocabRaw === 0 || Math.abs(vocabRaw) > 1 << 22) fail(`header field vocab_size = ${vocabRaw} is not plausible`, file);
    if (dim % nHeads !== 0) fail(`header: dim ${dim} is not divisible by n_heads ${nHeads}`, file);
    if (nHeads % nKvHeads !== 0) fail(`header: n_heads ${nHeads} is not a multiple of n_kv_heads ${nKvHeads}`, file);
    const headDim = dim / nHeads;
    const kvDim = headDim * nKvHeads;
    const vocabSize = Math.abs(vocabRaw);
    const tied = vocabRaw > 0;
    const floats =
      vocabSize * dim +
      nLayers * (dim + dim * dim + 2 * kvDim * dim + dim * dim + dim + 3 * hiddenDim * dim) +
      dim +
      seqLen * headDim + // legacy RoPE tables, skipped
      (tied ? 0 : vocabSize * dim);
    const expectedSize = 28 + floats * 4;
    const config: ModelConfig = {
      architecture: 'llama',
      dim,
      hiddenDim,
      nLayers,
      nHeads,
      nKvHeads,
      headDim,
      vocabSize,
      maxSeqLen: seqLen,
      normEps: 1e-5,
      ropeTheta: 10000,
      ropeLayout: 'interleaved',
      tiedEmbeddings: tied,
      qkvBias: false,
      bosId: 1,
      stopIds: [1],
    };
    return { config, fileSize: size, expectedSize };
  } finally {
    closeSync(fd);
  }
}

export function loadLlama2c(file: string): Llama2cCheckpoint {
  const { config: c, fileSize, expectedSize } = readLlama2cHeader(file);
  if (fileSize < expectedSize)
    fail(
      `checkpoint is truncated: the header (dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nLayers} layers, vocab ${c.vocabSize}) needs ${expectedSize} bytes but the file has ${fileSize}`,
      file,
      'copy or download the file again',
    );
  if (fileSize > expectedSize)
    fail(
      `checkpoint has ${fileSize - expectedSize} bytes more than its header (dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nLayers} layers, vocab ${c.vocabSize}) describes`,
      file,
      'the header sizes disagree with the file: is it a newer llama2.c format (version 1/2)? export it with --version 0',
    );
  const fd = openSync(file, 'r');
  try {
    let offset = 28;
    // Each tensor gets its own buffer, read straight from the file: no second copy of the checkpoint.
    const take = (count: number): Float32Array => {
      const a = new Float32Array(count);
      readSync(fd, new Uint8Array(a.buffer), 0, count * 4, offset);
      offset += count * 4;
      return a;
    };
    const perLayer = (count: number): Float32Array[] => Array.from({ length: c.nLayers }, () => take(count));
    const kvDim = c.headDim * c.nKvHeads;
    const embed = matrix('model.embed_tokens.weight', c.vocabSize, c.dim, take(c.vocabSize * c.dim));
    const rmsAtt = perLayer(c.dim);
    const wq = perLayer(c.dim * c.dim);
    const wk = perLayer(kvDim * c.dim);
    const wv = perLayer(kvDim * c.dim);
    const wo = perLayer(c.dim * c.dim);
    const rmsFfn = perLayer(c.dim);
    const w1 = perLayer(c.hiddenDim * c.dim);
    const w2 = perLayer(c.dim * c.hiddenDim);
    const w3 = perLayer(c.hiddenDim * c.dim);
    const finalNorm = take(c.dim);
    offset += c.maxSeqLen * c.headDim * 4; // freq_cis_real + freq_cis_imag, unused
    const lmHead = c.tiedEmbeddings ? embed : matrix('lm_head.weight', c.vocabSize, c.dim, take(c.vocabSize * c.dim));
    const layers: LayerWeights[] = Array.from({ length: c.nLayers }, (_, l) => ({
      attnNorm: rmsAtt[l],
      q: matrix(hfMatrixName(l, 'q'), c.dim, c.dim, wq[l]),
      k: matrix(hfMatrixName(l, 'k'), kvDim, c.dim, wk[l]),
      v: matrix(hfMatrixName(l, 'v'), kvDim, c.dim, wv[l]),
      o: matrix(hfMatrixName(l, 'o'), c.dim, c.dim, wo[l]),
      ffnNorm: rmsFfn[l],
      gate: matrix(hfMatrixName(l, 'gate'), c.hiddenDim, c.dim, w1[l]),
      up: matrix(hfMatrixName(l, 'up'), c.hiddenDim, c.dim, w3[l]),
      down: matrix(hfMatrixName(l, 'down'), c.dim, c.hiddenDim, w2[l]),
    }));
    return { config: c, weights: { embed, layers, finalNorm, lmHead } };
  } finally {
    closeSync(fd);
  }
}
