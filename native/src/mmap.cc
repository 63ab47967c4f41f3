// Memory-mapped checkpoints: a safetensors file mapped once, its tensors handed to JavaScript as ArrayBuffers
// that point into the mapping. The mapping is private and writable, so mutating a weight copies only the pages
// it touches (the file is never written), and restoring puts the same bits back. The mapping is released when
// the last of its tensors is collected.
#include <napi.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <string>
#include "mmap.h"

namespace {

struct Mapping {
  void* base;
  size_t size;
  long refs;
};

void release(Napi::Env, void*, Mapping* m) {
  if (--m->refs == 0) {
    munmap(m->base, m->size);
    delete m;
  }
}

// mapTensors(path, starts: Float64Array, lengths: Float64Array) -> ArrayBuffer[]
Napi::Value MapTensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  auto starts = info[1].As<Napi::Float64Array>();
  auto lengths = info[2].As<Napi::Float64Array>();
  const size_t n = starts.ElementLength();
  if (lengths.ElementLength() != n) throw Napi::RangeError::New(env, "mapTensors: starts and lengths differ in length");
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Napi::Error::New(env, "cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    close(fd);
    throw Napi::Error::New(env, "cannot stat " + path + ": " + std::strerror(e));
  }
  const size_t size = (size_t)st.st_size;
  for (size_t i = 0; i < n; i++)
    if (starts[i] < 0 || lengths[i] < 0 || (size_t)starts[i] + (size_t)lengths[i] > size) {
      close(fd);
      throw Napi::RangeError::New(env, "mapTensors: a tensor lies past the end of " + path);
    }
  void* base = size ? mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0) : nullptr;
  const int e = errno;
  close(fd);
  if (size && base == MAP_FAILED) throw Napi::Error::New(env, "cannot map " + path + ": " + std::strerror(e));
  auto* m = new Mapping{base, size, (long)n};
  auto out = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++) {
    char* p = static_cast<char*>(base) + (size_t)starts[i];
    out.Set(i, Napi::ArrayBuffer::New(env, p, (size_t)lengths[i], release, m));
  }
  if (n == 0 && size) {
    munmap(base, size);
    delete m;
  }
  return out;
}

}  // namespace

void register_mmap(Napi::Env env, Napi::Object exports) { exports.Set("mapTensors", Napi::Function::New(env, MapTensors)); }
