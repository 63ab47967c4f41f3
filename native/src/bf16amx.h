#pragma once
#include <cstdint>

// AMX (TDPBF16PS) row-exact bf16 product; see bf16amx.cc. Used when the level (isa.h) is amx.
bool bf16amx_supported();
void bf16amx_gemm(float* out, long ldo, const uint16_t* x, long rows, const uint16_t* w, long m, long n, int threads);
