import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';

/**
 * A model's fingerprint: sha256 over each file's name, size and content. Files up to 64 MiB are hashed whole;
 * larger ones through 64 evenly spaced 1 MiB samples plus their size, so a 13 GB checkpoint is fingerprinted in
 * a fraction of a second yet any different file (other weights, another size) gets another fingerprint.
 */
export function modelFingerprint(files: string[]): string {
  const h = createHash('sha256');
  const CHUNK = 1 << 20;
  for (const f of [...files].sort()) {
    const fd = openSync(f, 'r');
    try {
      const size = fstatSync(fd).size;
      h.update(`${basename(f)}\0${size}\0`);
      const buf = Buffer.alloc(CHUNK);
      if (size <= 64 * CHUNK) {
        for (let off = 0; off < size; off += CHUNK) h.update(buf.subarray(0, readSync(fd, buf, 0, CHUNK, off)));
      } else {
        for (let k = 0; k < 64; k++) {
          const off = Math.floor(((size - CHUNK) * k) / 63);
          h.update(buf.subarray(0, readSync(fd, buf, 0, CHUNK, off)));
        }
      }
    } finally {
      closeSync(fd);
    }
  }
  return h.digest('hex').slice(0, 32);
}
