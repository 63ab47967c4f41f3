#pragma once
// The order of operations every row-exact product follows, whatever kernel computes it (bf16exact.cc,
// f32exact.cc). An output out[r, o] = Σ_j x[r, j]·W[o, j] is the sum of blocks of kBlock inputs, added in order;
// a block is reduced from 16 lanes, lane l accumulating (with fused multiply-adds, from zero) the inputs given to
// it in ascending order, the lanes summed by the fixed tree below. Rows never meet, so a row's bits do not
// depend on the other rows of a call, the tiling or the threads, and every instruction set that performs the
// same operations gives the same bits.
#include <cstdint>
#include <cstring>

namespace exact {

constexpr long kBlock = 1024;  // inputs per block: a 4-row tile of W and of x stays in L1
constexpr long kRowsPerPanel = 192;  // rows of x reused from L2 against each weight tile

// The lanes' tree: 16 → 8 (l + l+8) → 4 (+4) → 2 (+2) → 1 (+1), as _mm512 halves fold.
inline float tree16(const float* v) {
  float a[8], b[4];
  for (int i = 0; i < 8; i++) a[i] = v[i] + v[i + 8];
  for (int i = 0; i < 4; i++) b[i] = a[i] + a[i + 4];
  const float c0 = b[0] + b[2], c1 = b[1] + b[3];
  return c0 + c1;
}

// Visits the tiles of out[rows x m] = x . W^T: for each chunk of 16·NR weight rows (one thread's), each block of
// inputs in order, each panel of rows, each tile of ≤ NR weight rows and ≤ MR rows; tile(r, mr, o, nr, k0, k1)
// adds the block [k0, k1) of those outputs (stores it, when k0 == 0). Threads split the weight rows: each output
// is computed whole by one thread, in the block order the numerics fix.
template <class Tile>
void for_each_tile(long rows, long m, long n, long MR, long NR, int threads, Tile&& tile) {
  const long chunk = 16 * NR;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (long o0 = 0; o0 < m; o0 += chunk) {
    const long o1 = o0 + chunk < m ? o0 + chunk : m;
    for (long k0 = 0; k0 < n; k0 += kBlock) {
      const long k1 = k0 + kBlock < n ? k0 + kBlock : n;
      for (long r0 = 0; r0 < rows; r0 += kRowsPerPanel) {
        const long r1 = r0 + kRowsPerPanel < rows ? r0 + kRowsPerPanel : rows;
        for (long o = o0; o < o1; o += NR)
          for (long r = r0; r < r1; r += MR) tile(r, (int)(MR < r1 - r ? MR : r1 - r), o, (int)(NR < o1 - o ? NR : o1 - o), k0, k1);
      }
    }
  }
}

// The order for a single row of x (a decoding step): each group of NR weight rows is taken through every block
// before the next group starts, so that the rows are read from start to end as NR sequential streams, which
// the hardware prefetches, instead of jumping to another row every kBlock inputs. group(o, nr) computes outputs
// [o, o + nr) whole, adding each output's blocks in order: the same bits as for_each_tile. Threads split the
// groups.
template <class Group>
void for_each_row_group(long m, long NR, int threads, Group&& group) {
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (long o = 0; o < m; o += NR) group(o, (int)(NR < m - o ? NR : m - o));
}

inline float bf16_to_f32(uint16_t h) {
  const uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace exact
