#pragma once
#include <cstdint>

// AMX (TDPBF16PS) row-exact bf16 product; see bf16amx.cc. Supported when the CPU has AMX-BF16 and Linux grants
// the tile state; MUTASCAN_BF16_EXACT=avx512 turns it off (the AVX-512 BF16 kernel of bf16exact.cc is used).
bool bf16amx_supported();
void bf16amx_gemm(float* out, long ldo, const uint16_t* x, long rows, const uint16_t* w, long m, long n, int threads);
