{
  "targets": [
    {
      "target_name": "mutascan_native",
      "sources": ["src/addon.cc", "src/peak.cc", "src/ops.cc", "src/mmap.cc", "src/bf16exact.cc", "src/bf16amx.cc", "src/sample.cc", "src/isa.cc", "src/f32exact.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "/usr/include/x86_64-linux-gnu/openblas-pthread"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-O3", "-std=c++17", "-fexceptions", "-fopenmp", "-ffp-contract=off", "-fno-fast-math"],
      "libraries": ["-lopenblas", "-ldnnl", "-fopenmp"]
    }
  ]
}
