// Prints the float32 values run.c's arithmetic takes from glibc: RoPE's powf/cosf/sinf (head size 8, positions
// 0-511, as stories260K uses them) and expf on 200,000 arguments in [-30, 0]. check-libm.mjs compares them with
// the correctly rounded values mutascan computes (Math.fround of the double-precision function).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
int main(void) {
  for (int pos = 0; pos < 512; pos++)
    for (int hd = 0; hd < 8; hd += 2) {
      float freq = 1.0f / powf(10000.0f, hd / (float)8);
      float val = pos * freq;
      printf("r %d %d %a %a %a %a\n", pos, hd, freq, val, cosf(val), sinf(val));
    }
  srand(1);
  for (int i = 0; i < 200000; i++) {
    float x = -((float)rand() / RAND_MAX) * 30.0f;
    printf("e %a %a\n", x, expf(x));
  }
  return 0;
}
