#pragma once
bool peak_supported(bool bf16);
double peak_gflops(bool bf16, int threads, double seconds);
