// The row-exact bf16 product on AMX tiles. Weight rows are the A tiles (read in place: 16 rows x 32 inputs),
// the activations, packed in pairs of inputs, are the B tiles, and each 16 x 16 C tile is accumulated by
// TDPBF16PS over the input blocks in ascending order from zero. An output's value thus depends only on its
// weight row, its activation row and that fixed order: never on how many rows share the call, where a row
// sits in it, the tiling or the threads (padding rows and columns are zeros that touch no other output).
// Every bf16 product of a process goes through the same kernel, so the plain path's single rows and the fast
// path's passes of thousands of rows agree bit for bit.
#include <immintrin.h>
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>
#include "bf16amx.h"
#include "isa.h"

namespace {

struct TileConfig {
  uint8_t palette = 1;
  uint8_t startRow = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

TileConfig config() {
  TileConfig c;
  for (int t = 0; t < 8; t++) {
    c.rows[t] = 16;
    c.colsb[t] = 64;
  }
  return c;
}

constexpr long kK = 32;  // inputs per tile row (64 bytes of bf16)

// x[rows x n] -> packed [kBlocks][rowBlocks][16 pairs][16 rows][2], zero-padded to whole tiles.
void pack(const uint16_t* x, long rows, long n, std::vector<uint16_t>& out, long& rowBlocks, long& kBlocks) {
  rowBlocks = (rows + 15) / 16;
  kBlocks = (n + kK - 1) / kK;
  out.assign((size_t)kBlocks * rowBlocks * 512, 0);
  for (long r = 0; r < rows; r++) {
    const long rb = r / 16, j = r % 16;
    for (long k = 0; k < n; k++) {
      const long kb = k / kK, kk = (k % kK) / 2, half = k % 2;
      out[((kb * rowBlocks + rb) * 16 + kk) * 32 + j * 2 + half] = x[r * n + k];
    }
  }
}

__attribute__((target("amx-tile,amx-bf16,avx512f"))) void block(const uint16_t* w, long m, long n, const uint16_t* xp, long rowBlocks, long kBlocks, long o0, long rb0, float* out, long ldo, long rows) {
  // A tiles: 16 weight rows each; the last input block (and rows past m) from a zero-padded copy.
  alignas(64) uint16_t stage[2][16 * kK];
  alignas(64) float c[4][16 * 16];
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  const bool twoB = rb0 + 1 < rowBlocks;
  for (long kb = 0; kb < kBlocks; kb++) {
    const long k0 = kb * kK;
    const bool wholeK = k0 + kK <= n;
    for (int a = 0; a < 2; a++) {
      const long oa = o0 + a * 16;
      if (wholeK && oa + 16 <= m) {
        if (a == 0) _tile_loadd(4, w + oa * n + k0, n * 2);
        else _tile_loadd(5, w + oa * n + k0, n * 2);
      } else {
        std::memset(stage[a], 0, sizeof(stage[a]));
        for (long i = 0; i < 16 && oa + i < m; i++) std::memcpy(stage[a] + i * kK, w + (oa + i) * n + k0, sizeof(uint16_t) * std::min(kK, n - k0));
        if (a == 0) _tile_loadd(4, stage[a], kK * 2);
        else _tile_loadd(5, stage[a], kK * 2);
      }
    }
    _tile_loadd(6, xp + (kb * rowBlocks + rb0) * 512, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(2, 5, 6);
    if (twoB) {
      _tile_loadd(7, xp + (kb * rowBlocks + rb0 + 1) * 512, 64);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  _tile_stored(0, c[0], 64);
  _tile_stored(1, c[1], 64);
  _tile_stored(2, c[2], 64);
  _tile_stored(3, c[3], 64);
  // c[a * 2 + b][i][j]: output o0 + 16a + i of activation row 16(rb0 + b) + j
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < (twoB ? 2 : 1); b++)
      for (long i = 0; i < 16; i++) {
        const long o = o0 + a * 16 + i;
        if (o >= m) break;
        for (long j = 0; j < 16; j++) {
          const long r = (rb0 + b) * 16 + j;
          if (r >= rows) break;
          out[r * ldo + o] = c[a * 2 + b][i * 16 + j];
        }
      }
}

}  // namespace

bool bf16amx_supported() { return isa_level() == Isa::amx; }

__attribute__((target("amx-tile,amx-bf16,avx512f"))) void bf16amx_gemm(float* out, long ldo, const uint16_t* x, long rows, const uint16_t* w, long m, long n, int threads) {
  std::vector<uint16_t> xp;
  long rowBlocks = 0, kBlocks = 0;
  pack(x, rows, n, xp, rowBlocks, kBlocks);
  const long oBlocks = (m + 31) / 32, pairs = (rowBlocks + 1) / 2;
  const TileConfig cfg = config();
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    _tile_loadconfig(&cfg);
#pragma omp for schedule(static) collapse(2)
    for (long ob = 0; ob < oBlocks; ob++)
      for (long pb = 0; pb < pairs; pb++) block(w, m, n, xp.data(), rowBlocks, kBlocks, ob * 32, pb * 2, out, ldo, rows);
    _tile_release();
  }
}
