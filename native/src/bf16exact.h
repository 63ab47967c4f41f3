#pragma once
#include <cstdint>

bool bf16exact_supported();
void bf16exact_gemm(float* out, long ldo, const uint16_t* x, long rows, const uint16_t* w, long m, long n, int threads);
