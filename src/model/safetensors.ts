import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { fail } from '../errors.js';
import { f16ToF32 } from '../util/float.js';

/**
 * safetensors files: an 8-byte little-endian header length, a JSON header, then raw tensor bytes.
 * Tensors are read one at a time into buffers of their own, so the model is never held twice.
 */
export type StDType = 'F32' | 'F16' | 'BF16';
const BYTES: Record<StDType, number> = { F32: 4, F16: 2, BF16: 2 };

export interface TensorInfo {
  name: string;
  file: string;
  dtype: StDType;
  shape: number[];
  /** absolute byte offset in the file */
  start: number;
  byteLength: number;
}

export function readSafetensorsHeader(file: string): Map<string, TensorInfo> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    fail(`cannot open safetensors file: ${(e as Error).message}`, file);
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 8) fail(`file is ${size} bytes, too short for a safetensors header`, file, 'the file is truncated');
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen <= 0 || 8 + headerLen > size)
      fail(`header length ${headerLen} does not fit in the file (${size} bytes)`, file, 'the file is truncated or not safetensors');
    const hb = Buffer.alloc(headerLen);
    readSync(fd, hb, 0, headerLen, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hb.toString('utf8'));
    } catch (e) {
      fail(`header is not valid JSON (${(e as Error).message})`, file, 'the file is corrupt');
    }
    const dataStart = 8 + headerLen;
    const dataSize = size - dataStart;
    const out = new Map<string, TensorInfo>();
    for (const [name, v] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const t = v as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
      const where = `${file}, tensor ${name}`;
      if (!t || typeof t.dtype !== 'string' || !Array.isArray(t.shape) || !Array.isArray(t.data_offsets))
        fail('tensor entry lacks dtype, shape or data_offsets', where);
      if (!(t.dtype in BYTES))
        fail(`dtype ${t.dtype} is not supported`, where, 'mutascan reads F32, F16 and BF16 tensors');
      const dtype = t.dtype as StDType;
      const [begin, end] = t.data_offsets;
      const count = t.shape.reduce((a, b) => a * b, 1);
      if (!(Number.isInteger(begin) && Number.isInteger(end) && begin >= 0 && end >= begin))
        fail(`data_offsets [${begin}, ${end}] are not valid`, where, 'the file is corrupt');
      if (end - begin !== count * BYTES[dtype])
        fail(
          `data_offsets span ${end - begin} bytes but shape [${t.shape}] of ${dtype} needs ${count * BYTES[dtype]}`,
          where,
          'the header lies about offsets or dtype: the file is corrupt',
        );
      if (end > dataSize)
        fail(`tensor ends at byte ${end} of the data section, but the data section has ${dataSize} bytes`, where, 'the file is truncated');
      out.set(name, { name, file, dtype, shape: t.shape, start: dataStart + begin, byteLength: end - begin });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Reads one tensor: F32 → Float32Array, BF16 and F16 → Uint16Array of raw bits (or widened, if asked). */
export function readTensor(info: TensorInfo, opts: { widen?: boolean } = {}): Float32Array | Uint16Array {
  const fd = openSync(info.file, 'r');
  try {
    const count = info.byteLength / BYTES[info.dtype];
    const raw = info.dtype === 'F32' ? new Float32Array(count) : new Uint16Array(count);
    const bytes = new Uint8Array(raw.buffer);
    let done = 0;
    // readSync moves at most 2 GiB at a time.
    while (done < bytes.length) {
      const n = readSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30), info.start + done);
      if (n <= 0) fail(`unexpected end of file while reading tensor ${info.name}`, info.file, 'the file is truncated');
      done += n;
    }
    if (info.dtype === 'F16' && opts.widen) {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = f16ToF32(raw[i]);
      return out;
    }
    if (info.dtype === 'BF16' && opts.widen) {
      const out = new Float32Array(count);
      const u = new Uint32Array(out.buffer);
      u.set(raw as Uint16Array);
      for (let i = 0; i < count; i++) u[i] <<= 16;
      return out;
    }
    return raw;
  } finally {
    closeSync(fd);
  }
}

export interface TensorToWrite {
  name: string;
  dtype: StDType;
  shape: number[];
  /** raw little-endian bytes of the tensor, or a function that makes them (whole or in pieces) when the writer gets there */
  data: Uint8Array | (() => Uint8Array | Iterable<Uint8Array>);
}

export function tensorBytes(t: Pick<TensorToWrite, 'dtype' | 'shape'>): number {
  return t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
}

/** Writes a safetensors file; tensors are laid out in the given order, header padded to 8 bytes. */
export function writeSafetensors(file: string, tensors: TensorToWrite[], metadata: Record<string, string> = { format: 'pt' }): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const t of tensors) {
    const n = tensorBytes(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const hb = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hb.length));
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, hb);
    // Tensors made on demand are written one at a time, so a large model never sits in memory whole.
    for (const t of tensors) {
      const made = typeof t.data === 'function' ? t.data() : t.data;
      let written = 0;
      for (const data of made instanceof Uint8Array ? [made] : made) {
        let done = 0;
        while (done < data.length) done += writeSync(fd, data, done, Math.min(data.length - done, 1 << 30));
        written += done;
      }
      if (written !== tensorBytes(t)) throw new Error(`tensor ${t.name}: ${written} bytes, expected ${tensorBytes(t)}`);
    }
  } finally {
    closeSync(fd);
  }
}
