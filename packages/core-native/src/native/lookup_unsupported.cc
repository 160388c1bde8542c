// No passwd/group database API on this OS: each lookup throws so the pool rejects with a typed error.
#include "lookups.h"

namespace peerauth {
namespace {

Napi::Value Unsupported(const Napi::CallbackInfo& info) {
  Napi::Error e = Napi::Error::New(info.Env(), "user and group lookups are not supported on this platform");
  e.Value().Set("unsupported", Napi::Boolean::New(info.Env(), true));
  e.ThrowAsJavaScriptException();
  return info.Env().Undefined();
}

}  // namespace

void RegisterLookups(Napi::Env env, Napi::Object exports) {
  for (const char* name : {"getpwuid", "getpwnam", "getgrgid", "getgrouplist"}) {
    exports.Set(name, Napi::Function::New(env, Unsupported, name));
  }
}

}  // namespace peerauth
