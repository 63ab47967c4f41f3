#pragma once
#include <napi.h>

void register_mmap(Napi::Env env, Napi::Object exports);
