#pragma once
/** GFLOP/s of a tight loop of the instruction a kind's products are bound by at the level in use (isa.h) */
double peak_gflops(bool bf16, int threads, double seconds);
/** that instruction, for the benchmark's line */
const char* peak_instruction(bool bf16);
/** GB/s of a STREAM-like sweep over `bytes` of arrays: the triad a = b + s·c, or a read-only sum */
double bandwidth_gbs(bool triad, double bytes, int threads, double seconds);
