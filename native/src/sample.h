#pragma once
#include <napi.h>
void register_sample(Napi::Env env, Napi::Object exports);
