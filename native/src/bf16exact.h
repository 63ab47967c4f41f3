#pragma once
#include <cstdint>

/** which kernel bf16exact_gemm runs here: amx, avx512bf16, avx512f, avx2 or portable (isa.h) */
const char* bf16exact_kernel();
/** the bits it gives: bf16-dp (every level but AMX) or bf16-amx */
const char* bf16exact_numerics();
/** true when the kernel takes x split (bf16exact_split) rather than as bf16 */
bool bf16exact_splits();
/** x [rows x n] bf16 → the emulations' layout: per 32 inputs, the 16 odd ones then the 16 even ones, as floats */
void bf16exact_split(float* out, const uint16_t* x, long rows, long n);
// rows of the split layout are padded by 8 floats: rows a power of two apart made the kernels' loads of
// neighbouring rows collide in L1 (a third slower at 7B widths)
inline long bf16exact_split_width(long n) { return (n + 31) / 32 * 32 + 8; }
void bf16exact_gemm(float* out, long ldo, const void* x, long rows, const uint16_t* w, long m, long n, int threads);
