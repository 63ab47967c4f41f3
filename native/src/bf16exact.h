#pragma once
#include <cstdint>

bool bf16exact_supported();
/** which kernel bf16exact_gemm runs here: amx, avx512bf16, avx512f (widened to float32 FMAs) or none */
const char* bf16exact_kernel();
void bf16exact_gemm(float* out, long ldo, const uint16_t* x, long rows, const uint16_t* w, long m, long n, int threads);
