#pragma once
#include <napi.h>
void register_ops(Napi::Env env, Napi::Object exports);
int configured_threads();
