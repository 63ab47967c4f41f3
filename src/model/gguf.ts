/**
 * GGUF, llama.cpp's file format: a header (magic "GGUF", version, tensor and key counts), typed metadata
 * (key → value, arrays included), tensor infos (name, dimensions innermost first, ggml type, offset), then the
 * tensor data, aligned to `general.alignment` (32 by default).
 *
 * Files come from strangers, and llama.cpp's own reader has had out-of-bounds bugs from crafted headers, so every
 * count, length, dimension and offset is checked against the file's size before anything is allocated or read.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { fail } from '../errors.js';
import { f16ToF32 } from '../util/float.js';

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32

/** Metadata value types, by their number in the file. */
const enum VType {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
}
const SCALAR_BYTES: Partial<Record<VType, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

const TYPE_NAMES: Record<number, string> = { 0: 'u8', 1: 'i8', 2: 'u16', 3: 'i16', 4: 'u32', 5: 'i32', 6: 'f32', 7: 'bool', 8: 'string', 9: 'array', 10: 'u64', 11: 'i64', 12: 'f64' };

/** The u32 at the cursor, without moving it (an array's element type). */
function peekU32(c: Cursor): number {
  const at = c.pos;
  const v = c.u32('array element type');
  c.pos = at;
  return v;
}

export type GgufValue = number | bigint | boolean | string | GgufValue[] | Float32Array | Int32Array;

/** ggml tensor types this reader knows by name; the ones it can turn into weights are in `BLOCKS`. */
export const GGML_TYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K',
  12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL',
  21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16',
  34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
};

/** Types read here: elements per block and bytes per block. */
const BLOCKS: Record<string, [number, number]> = {
  F32: [1, 4], F16: [1, 2], BF16: [1, 2], Q8_0: [32, 34], Q4_0: [32, 18], Q4_K: [256, 144], Q5_K: [256, 176], Q6_K: [256, 210],
};
export type WritableType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q5_K' | 'Q6_K';
export const GGML_TYPE: Record<WritableType, number> = { F32: 0, F16: 1, BF16: 30, Q8_0: 8, Q4_0: 2, Q4_K: 12, Q5_K: 13, Q6_K: 14 };

export interface GgufTensor {
  name: string;
  /** ggml type name (F32, BF16, Q8_0, …) */
  type: string;
  /** dimensions as the file lists them: innermost (contiguous) first */
  dims: number[];
  /** absolute byte offset in the file */
  start: number;
  byteLength: number;
  file: string;
}

export interface GgufFile {
  file: string;
  version: number;
  metadata: Map<string, GgufValue>;
  /** each key's GGUF value type (an array's as `array of <element type>`), e.g. `u32`, `f32`, `array of string` */
  metadataTypes: Map<string, string>;
  tensors: Map<string, GgufTensor>;
  alignment: number;
  dataStart: number;
}

/** Reads the file's head on demand, in growing chunks, never past its end. */
class Cursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;
  constructor(
    private readonly fd: number,
    readonly size: number,
    readonly file: string,
  ) {}

  private need(n: number, what: string): void {
    if (this.pos + n > this.size)
      fail(`the file ends inside the header (${what} at byte ${this.pos} needs ${n} bytes, the file has ${this.size})`, this.file, 'the file is truncated or not GGUF');
    if (this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.buf.length) return;
    const len = Math.min(this.size - this.pos, Math.max(n, 1 << 20, this.buf.length * 2));
    this.buf = Buffer.alloc(len);
    this.bufStart = this.pos;
    let done = 0;
    while (done < len) {
      const r = readSync(this.fd, this.buf, done, len - done, this.pos + done);
      if (r <= 0) fail(`unexpected end of file at byte ${this.pos + done}`, this.file, 'the file is truncated');
      done += r;
    }
  }
  private at(n: number, what: string): number {
    this.need(n, what);
    const o = this.pos - this.bufStart;
    this.pos += n;
    return o;
  }
  u32(what: string): number {
    const o = this.at(4, what); // before reading this.buf: at() may replace it
    return this.buf.readUInt32LE(o);
  }
  u64(what: string): number {
    const o = this.at(8, what);
    const v = this.buf.readBigUInt64LE(o);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} is ${v}, beyond any file`, this.file, 'the header is corrupt');
    return Number(v);
  }
  string(what: string): string {
    const n = this.u64(`${what}'s length`);
    if (n > this.size - this.pos) fail(`${what} claims ${n} bytes, more than the rest of the file`, this.file, 'the header is corrupt');
    const o = this.at(n, what);
    return this.buf.toString('utf8', o, o + n);
  }
  scalar(t: VType, what: string): number | bigint | boolean {
    const o = this.at(SCALAR_BYTES[t]!, what);
    const b = this.buf;
    switch (t) {
      case VType.U8: return b.readUInt8(o);
      case VType.I8: return b.readInt8(o);
      case VType.U16: return b.readUInt16LE(o);
      case VType.I16: return b.readInt16LE(o);
      case VType.U32: return b.readUInt32LE(o);
      case VType.I32: return b.readInt32LE(o);
      case VType.F32: return b.readFloatLE(o);
      case VType.BOOL: return b.readUInt8(o) !== 0;
      case VType.U64: return b.readBigUInt64LE(o);
      case VType.I64: return b.readBigInt64LE(o);
      default: return b.readDoubleLE(o);
    }
  }
  /** a typed array of f32 or i32 elements without a value per element (token scores and types are long) */
  block(n: number, bytes: number, what: string): Buffer {
    if (n * bytes > this.size - this.pos) fail(`${what} claims ${n} elements, more than the rest of the file holds`, this.file, 'the header is corrupt');
    const o = this.at(n * bytes, what);
    return Buffer.from(this.buf.subarray(o, o + n * bytes));
  }
}

function readValue(c: Cursor, t: number, what: string, depth: number): GgufValue {
  if (t === VType.STRING) return c.string(what);
  if (t === VType.ARRAY) {
    if (depth > 4) fail(`metadata ${what} nests arrays ${depth} deep`, c.file, 'the header is corrupt');
    const et = c.u32(`${what}'s element type`);
    const n = c.u64(`${what}'s length`);
    if (et === VType.F32 || et === VType.I32) {
      const raw = c.block(n, 4, what);
      const aligned = new Uint8Array(raw.length);
      aligned.set(raw);
      return et === VType.F32 ? new Float32Array(aligned.buffer) : new Int32Array(aligned.buffer);
    }
    // every element takes at least one byte: a length beyond the file is refused before the loop
    if (n > c.size - c.pos) fail(`metadata ${what} claims ${n} elements, more than the rest of the file holds`, c.file, 'the header is corrupt');
    const out: GgufValue[] = [];
    for (let i = 0; i < n; i++) out.push(readValue(c, et, `${what}[${i}]`, depth + 1));
    return out;
  }
  if (!(t in SCALAR_BYTES)) fail(`metadata ${what} has value type ${t}, which GGUF does not define`, c.file, 'the header is corrupt');
  return c.scalar(t as VType, what);
}

export function readGguf(file: string): GgufFile {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    fail(`cannot open GGUF file: ${(e as Error).message}`, file);
  }
  try {
    const size = fstatSync(fd).size;
    const c = new Cursor(fd, size, file);
    if (size < 24) fail(`file is ${size} bytes, too short for a GGUF header`, file, 'the file is truncated or not GGUF');
    const magic = c.u32('magic');
    if (magic !== MAGIC) fail('not a GGUF file (its first four bytes are not "GGUF")', file, 'give a .gguf file written by llama.cpp or `mutascan convert`');
    const version = c.u32('version');
    if (version !== 2 && version !== 3) fail(`GGUF version ${version} is not supported`, file, 'mutascan reads GGUF versions 2 and 3 (what llama.cpp writes today)');
    const nTensors = c.u64('tensor count');
    const nKv = c.u64('metadata count');
    // each entry takes at least 8 bytes (a length) in the file
    if (nTensors > size / 8 || nKv > size / 8) fail(`header claims ${nTensors} tensors and ${nKv} metadata keys, more than ${size} bytes can hold`, file, 'the header is corrupt');
    const metadata = new Map<string, GgufValue>();
    const metadataTypes = new Map<string, string>();
    for (let i = 0; i < nKv; i++) {
      const key = c.string(`metadata key ${i}`);
      const t = c.u32(`type of ${key}`);
      const at = c.pos;
      metadataTypes.set(key, t === VType.ARRAY && c.size - at >= 4 ? `array of ${TYPE_NAMES[peekU32(c)] ?? '?'}` : (TYPE_NAMES[t] ?? '?'));
      metadata.set(key, readValue(c, t, key, 0));
    }
    const alignment = metadata.has('general.alignment') ? Number(metadata.get('general.alignment')) : 32;
    if (!Number.isInteger(alignment) || alignment <= 0 || alignment > 1 << 20 || (alignment & (alignment - 1)) !== 0)
      fail(`general.alignment is ${String(metadata.get('general.alignment'))}; it must be a power of two`, file, 'the header is corrupt');
    const infos: { name: string; type: number; dims: number[]; offset: number }[] = [];
    for (let i = 0; i < nTensors; i++) {
      const name = c.string(`tensor ${i}'s name`);
      const nd = c.u32(`${name}'s dimension count`);
      if (nd < 1 || nd > 4) fail(`tensor ${name} has ${nd} dimensions (ggml allows 1 to 4)`, file, 'the header is corrupt');
      const dims: number[] = [];
      for (let d = 0; d < nd; d++) dims.push(c.u64(`${name}'s dimension ${d}`));
      const type = c.u32(`${name}'s type`);
      const offset = c.u64(`${name}'s offset`);
      infos.push({ name, type, dims, offset });
    }
    const dataStart = Math.ceil(c.pos / alignment) * alignment;
    const tensors = new Map<string, GgufTensor>();
    for (const t of infos) {
      const where = `${file}, tensor ${t.name}`;
      if (tensors.has(t.name)) fail(`tensor ${t.name} is listed twice`, file, 'the header is corrupt');
      const typeName = GGML_TYPE_NAMES[t.type];
      if (!typeName) fail(`tensor type ${t.type} is not a ggml type this reader knows`, where, 'the file may come from a newer llama.cpp, or be corrupt');
      let count = 1;
      for (const d of t.dims) {
        count *= d;
        if (!Number.isSafeInteger(count)) fail(`dimensions [${t.dims}] multiply past 2^53 elements`, where, 'the header is corrupt');
      }
      const block = BLOCKS[typeName];
      const per = block ?? [1, 0];
      if (block && t.dims[0] % per[0] !== 0) fail(`${typeName} stores blocks of ${per[0]}, but the tensor's rows have ${t.dims[0]} elements`, where, 'the header is corrupt');
      const byteLength = block ? (count / per[0]) * per[1] : 0;
      if (t.offset % alignment !== 0) fail(`offset ${t.offset} is not a multiple of the alignment ${alignment}`, where, 'the header is corrupt');
      if (dataStart + t.offset + byteLength > size)
        fail(`tensor data ends at byte ${dataStart + t.offset + byteLength}, past the file's end (${size} bytes)`, where, 'the file is truncated');
      tensors.set(t.name, { name: t.name, type: typeName, dims: t.dims, start: dataStart + t.offset, byteLength, file });
    }
    return { file, version, metadata, metadataTypes, tensors, alignment, dataStart };
  } finally {
    closeSync(fd);
  }
}

/** Whether the tensor's type is one mutascan turns into weights. */
export function readableType(type: string): boolean {
  return type in BLOCKS;
}

/** The raw bytes of a tensor. */
function rawBytes(t: GgufTensor): Uint8Array {
  const out = new Uint8Array(t.byteLength);
  const fd = openSync(t.file, 'r');
  try {
    let done = 0;
    while (done < out.length) {
      const n = readSync(fd, out, done, Math.min(out.length - done, 1 << 30), t.start + done);
      if (n <= 0) fail(`unexpected end of file while reading tensor ${t.name}`, t.file, 'the file is truncated');
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/**
 * A tensor's values: F32 as is, BF16 and F16 as their raw bits (or widened, exactly, when asked); Q8_0 and Q4_0
 * dequantized as ggml does (one f16 scale per block of 32, times the block's integers; Q4_0's nibbles minus 8,
 * low nibbles first); the K-quants Q4_K, Q5_K and Q6_K (blocks of 256) as ggml's dequantize_row_* do, each
 * product and difference rounded to float32. Other types are refused, naming the type.
 */
export function readGgufTensor(t: GgufTensor, opts: { widen?: boolean } = {}): Float32Array | Uint16Array {
  if (!readableType(t.type))
    fail(`tensor ${t.name} is stored as ${t.type}, which mutascan cannot read`, t.file, 'convert the model to F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K or Q6_K (llama-quantize, or convert_hf_to_gguf.py --outtype bf16)');
  const bytes = rawBytes(t);
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (t.type === 'F32') return new Float32Array(bytes.buffer, 0, count);
  const u16 = (): Uint16Array => new Uint16Array(bytes.buffer, 0, count);
  if (t.type === 'BF16') {
    if (!opts.widen) return u16();
    const out = new Float32Array(count);
    const u = new Uint32Array(out.buffer);
    u.set(u16());
    for (let i = 0; i < count; i++) u[i] <<= 16;
    return out;
  }
  if (t.type === 'F16' && !opts.widen) return u16();
  const out = new Float32Array(count);
  if (t.type === 'F16') {
    const h = u16();
    for (let i = 0; i < count; i++) out[i] = f16ToF32(h[i]);
    return out;
  }
  const view = new DataView(bytes.buffer);
  if (t.type === 'Q4_K' || t.type === 'Q5_K') dequantizeQ45K(bytes, view, out, t.type === 'Q5_K');
  else if (t.type === 'Q6_K') dequantizeQ6K(bytes, view, out);
  else dequantize32(t.type, bytes, view, out);
  return out;
}

/** Q8_0 and Q4_0: blocks of 32 values, an f16 scale first. */
function dequantize32(type: string, bytes: Uint8Array, view: DataView, out: Float32Array): void {
  const blocks = out.length / 32;
  if (type === 'Q8_0')
    for (let b = 0; b < blocks; b++) {
      const d = f16ToF32(view.getUint16(b * 34, true));
      for (let j = 0; j < 32; j++) out[b * 32 + j] = Math.fround(d * view.getInt8(b * 34 + 2 + j));
    }
  else
    for (let b = 0; b < blocks; b++) {
      const d = f16ToF32(view.getUint16(b * 18, true));
      for (let j = 0; j < 16; j++) {
        const q = bytes[b * 18 + 2 + j];
        out[b * 32 + j] = Math.fround(d * ((q & 15) - 8));
        out[b * 32 + j + 16] = Math.fround(d * ((q >> 4) - 8));
      }
    }
}

const f = Math.fround;

/** The 6-bit scale and min of sub-block j of a Q4_K/Q5_K super-block (its 12 bytes of scales at `at`). */
function scaleMinK4(j: number, b: Uint8Array, at: number): [number, number] {
  if (j < 4) return [b[at + j] & 63, b[at + j + 4] & 63];
  return [(b[at + j + 4] & 0xf) | ((b[at + j - 4] >> 6) << 4), (b[at + j + 4] >> 4) | ((b[at + j] >> 6) << 4)];
}

/**
 * Q4_K (144-byte blocks: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles) and Q5_K (the
 * same with 32 bytes of fifth bits before the nibbles, 176 bytes): value = d·scale·q − dmin·min per 32 values.
 */
function dequantizeQ45K(bytes: Uint8Array, view: DataView, out: Float32Array, five: boolean): void {
  const size = five ? 176 : 144;
  for (let b = 0, y = 0; b < out.length / 256; b++) {
    const at = b * size;
    const d = f16ToF32(view.getUint16(at, true));
    const dmin = f16ToF32(view.getUint16(at + 2, true));
    const qh = at + 16;
    let qs = at + (five ? 48 : 16);
    for (let j = 0, is = 0, u1 = 1, u2 = 2; j < 256; j += 64, is += 2, qs += 32, u1 <<= 2, u2 <<= 2) {
      const [sc1, m1] = scaleMinK4(is, bytes, at + 4);
      const [sc2, m2] = scaleMinK4(is + 1, bytes, at + 4);
      const d1 = f(d * sc1);
      const n1 = f(dmin * m1);
      const d2 = f(d * sc2);
      const n2 = f(dmin * m2);
      for (let l = 0; l < 32; l++) out[y++] = f(f(d1 * ((bytes[qs + l] & 0xf) + (five && bytes[qh + l] & u1 ? 16 : 0))) - n1);
      for (let l = 0; l < 32; l++) out[y++] = f(f(d2 * ((bytes[qs + l] >> 4) + (five && bytes[qh + l] & u2 ? 16 : 0))) - n2);
    }
  }
}

/** Q6_K (210-byte blocks: 128 bytes of low nibbles, 64 of high bit pairs, 16 int8 scales, f16 d): d·scale·(q − 32). */
function dequantizeQ6K(bytes: Uint8Array, view: DataView, out: Float32Array): void {
  for (let b = 0; b < out.length / 256; b++) {
    const at = b * 210;
    const d = f16ToF32(view.getUint16(at + 208, true));
    for (let n = 0; n < 2; n++) {
      const ql = at + n * 64;
      const qh = at + 128 + n * 32;
      const sc = at + 192 + n * 8;
      const y = b * 256 + n * 128;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = bytes[qh + l];
        const q1 = ((bytes[ql + l] & 0xf) | (((h >> 0) & 3) << 4)) - 32;
        const q2 = ((bytes[ql + l + 32] & 0xf) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((bytes[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((bytes[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
        const s = (k: number): number => f(d * view.getInt8(sc + is + k));
        out[y + l] = f(s(0) * q1);
        out[y + l + 32] = f(s(2) * q2);
        out[y + l + 64] = f(s(4) * q3);
        out[y + l + 96] = f(s(6) * q4);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

/** A metadata value to write, with its GGUF type where the JavaScript value does not tell it. */
export type GgufEntry =
  | { type: 'u32' | 'i32' | 'f32' | 'u64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'strings'; value: readonly string[] }
  | { type: 'f32s'; value: Float32Array | readonly number[] }
  | { type: 'i32s'; value: Int32Array | readonly number[] };

export interface GgufTensorToWrite {
  name: string;
  /** quantized types: the caller's blocks, as ggml lays them out */
  type: WritableType;
  /** innermost first, as GGUF lists them (a [rows × cols] matrix is [cols, rows]) */
  dims: number[];
  /** raw little-endian bytes, or a function making them when the writer gets there */
  data: Uint8Array | (() => Uint8Array);
}

class Bytes {
  private parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.push(b);
  }
  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  concat(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function writeEntry(b: Bytes, e: GgufEntry): void {
  const scalar = (t: VType, v: number | boolean): void => {
    const buf = Buffer.alloc(SCALAR_BYTES[t]!);
    if (t === VType.U32) buf.writeUInt32LE(v as number);
    else if (t === VType.I32) buf.writeInt32LE(v as number);
    else if (t === VType.F32) buf.writeFloatLE(v as number);
    else if (t === VType.U64) buf.writeBigUInt64LE(BigInt(v as number));
    else buf.writeUInt8(v ? 1 : 0);
    b.push(buf);
  };
  const types = { u32: VType.U32, i32: VType.I32, f32: VType.F32, u64: VType.U64, bool: VType.BOOL } as const;
  switch (e.type) {
    case 'string':
      b.u32(VType.STRING);
      b.string(e.value);
      return;
    case 'strings':
      b.u32(VType.ARRAY);
      b.u32(VType.STRING);
      b.u64(e.value.length);
      for (const s of e.value) b.string(s);
      return;
    case 'f32s':
    case 'i32s': {
      const t = e.type === 'f32s' ? VType.F32 : VType.I32;
      b.u32(VType.ARRAY);
      b.u32(t);
      b.u64(e.value.length);
      const a = e.type === 'f32s' ? Float32Array.from(e.value) : Int32Array.from(e.value);
      b.push(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
      return;
    }
    default:
      b.u32(types[e.type]);
      scalar(types[e.type], e.value);
  }
}


/** Writes a GGUF v3 file: metadata in the given order, tensors aligned to 32 bytes, written one at a time. */
export function writeGguf(file: string, metadata: [string, GgufEntry][], tensors: GgufTensorToWrite[]): void {
  const alignment = 32;
  const head = new Bytes();
  head.u32(MAGIC);
  head.u32(3);
  head.u64(tensors.length);
  head.u64(metadata.length + 1);
  head.string('general.alignment');
  writeEntry(head, { type: 'u32', value: alignment });
  for (const [k, e] of metadata) {
    head.string(k);
    writeEntry(head, e);
  }
  const pad = (n: number): number => Math.ceil(n / alignment) * alignment;
  let offset = 0;
  const sizes = tensors.map((t) => (t.dims.reduce((a, b) => a * b, 1) / BLOCKS[t.type][0]) * BLOCKS[t.type][1]);
  tensors.forEach((t, i) => {
    head.string(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(GGML_TYPE[t.type]);
    head.u64(offset);
    offset = pad(offset + sizes[i]);
  });
  const fd = openSync(file, 'w');
  try {
    const write = (b: Uint8Array): void => {
      let done = 0;
      while (done < b.length) done += writeSync(fd, b, done, Math.min(b.length - done, 1 << 30));
    };
    const h = head.concat();
    write(h);
    write(new Uint8Array(pad(h.length) - h.length));
    tensors.forEach((t, i) => {
      const data = typeof t.data === 'function' ? t.data() : t.data;
      if (data.length !== sizes[i]) throw new Error(`tensor ${t.name}: ${data.length} bytes, expected ${sizes[i]}`);
      write(data);
      write(new Uint8Array(pad(sizes[i]) - sizes[i]));
    });
  } finally {
    closeSync(fd);
  }
}
