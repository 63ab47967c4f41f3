#pragma once

// The instruction-set levels mutascan's kernels are written for, lowest first. Each level's kernels need the
// ones below it; a CPU runs at the highest level it has, or lower when MUTASCAN_ISA says so (see isa.cc).
enum class Isa { portable = 0, avx2 = 1, avx512f = 2, avx512bf16 = 3, amx = 4 };

/** The level the kernels run at: the host's, capped by MUTASCAN_ISA. */
Isa isa_level();
/** The highest level this CPU (and, for AMX, the kernel) supports. */
Isa host_isa();
const char* isa_name(Isa level);
/** MUTASCAN_ISA as given when it names no level (empty when it is unset or valid): the addon refuses to load. */
const char* isa_request_error();
inline bool isa_at_least(Isa level) { return (int)isa_level() >= (int)level; }
