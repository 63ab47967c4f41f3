// Which kernels this process runs. The host's level is read once from CPUID (and, for AMX, from Linux, which
// hands out the tile state only on request); MUTASCAN_ISA caps it, so that one machine can run, and the tests can
// compare, every level's kernels. Capping never raises a level: asking for AMX on an AVX2 host gives AVX2.
#include "isa.h"
#include <sys/syscall.h>
#include <unistd.h>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

const char* const kNames[] = {"portable", "avx2", "avx512f", "avx512bf16", "amx"};

bool amx_granted() {
  // ARCH_REQ_XCOMP_PERM (0x1023) for XFEATURE_XTILEDATA (18)
  return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
}

Isa detect() {
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return Isa::portable;
  if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")))
    return Isa::avx2;
  if (!__builtin_cpu_supports("avx512bf16")) return Isa::avx512f;
  return Isa::avx512bf16;  // AMX: see level()
}

struct Level {
  Isa host;
  Isa level;
  std::string error;
};

const Level& level() {
  static const Level l = [] {
    Level r;
    r.host = detect();
    __builtin_cpu_init();
    const bool amxCpu = r.host == Isa::avx512bf16 && __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16");
    Isa cap = Isa::amx;
    const char* want = std::getenv("MUTASCAN_ISA");
    if (want && *want && std::strcmp(want, "auto") != 0) {
      bool found = false;
      for (int i = 0; i < 5; i++)
        if (std::strcmp(want, kNames[i]) == 0) cap = (Isa)i, found = true;
      if (!found) r.error = want;
    }
    // Linux is asked for the tile state only when AMX would be used; a capped level reports the CPU's flags.
    if (amxCpu && (cap != Isa::amx || amx_granted())) r.host = Isa::amx;
    r.level = (int)cap < (int)r.host ? cap : r.host;
    return r;
  }();
  return l;
}

}  // namespace

Isa isa_level() { return level().level; }
Isa host_isa() { return level().host; }
const char* isa_name(Isa l) { return kNames[(int)l]; }
const char* isa_request_error() { return level().error.c_str(); }
