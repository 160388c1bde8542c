// N-API glue. The credential read is the hot path of every accepted connection, so it is written
// against the raw C API: one call, numbers in and out, results written into a Uint32Array that
// JavaScript registered once (no object, array or exception is created per call). Each worker
// thread that loads the addon gets its own State through the instance data.
#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <napi.h>

#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>

#include "lookups.h"
#include "platform.h"

namespace peerauth {
namespace {

struct State {
  napi_ref buffer_ref = nullptr;
  uint32_t* data = nullptr;
  uint32_t cap = 0;
};

void DeleteState(napi_env env, void* data, void*) {
  State* st = static_cast<State*>(data);
  if (st->buffer_ref) napi_delete_reference(env, st->buffer_ref);
  delete st;
}

State* GetState(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<State*>(data);
}

napi_value MakeInt(napi_env env, int32_t v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

// setBuffer(u32: Uint32Array): the array ReadPeer fills. Kept alive by a reference.
napi_value SetBuffer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (argc < 1 || napi_get_typedarray_info(env, argv[0], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint32_array || length < kSlotGroups) {
    napi_throw_type_error(env, nullptr, "setBuffer expects a Uint32Array of at least 5 elements");
    return nullptr;
  }
  State* st = GetState(env);
  if (st->buffer_ref) napi_delete_reference(env, st->buffer_ref);
  napi_create_reference(env, argv[0], 1, &st->buffer_ref);
  st->data = static_cast<uint32_t*>(data);
  st->cap = static_cast<uint32_t>(length);
  return nullptr;
}

// readPeer(fd) -> 0 | errno | kResultNeedMore | kResultUnsupported
napi_value ReadPeerJs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) return MakeInt(env, EBADF);
  State* st = GetState(env);
  if (!st->data) return MakeInt(env, EFAULT);
  if (fd < 0) return MakeInt(env, EBADF);
  return MakeInt(env, ReadPeer(fd, st->data, st->cap));
}

// openPidfd(fd) -> pidfd (>= 0) | -errno | null when this OS or kernel has no SO_PEERPIDFD
napi_value OpenPidfdJs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return MakeInt(env, -EBADF);
  int pidfd = -1;
  int rc = OpenPeerPidfd(fd, &pidfd);
  if (rc == kResultUnsupported) {
    napi_value nul;
    napi_get_null(env, &nul);
    return nul;
  }
  return MakeInt(env, rc == 0 ? pidfd : -rc);
}

// closeFd(fd) -> 0 | errno. EINTR still closes the fd on Linux, so it is never retried.
Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  int rc = close(fd) == 0 ? 0 : errno;
  return Napi::Number::New(info.Env(), rc == EINTR ? 0 : rc);
}

Napi::Value ProbeJs(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), Probe()); }

Napi::Value ThrowResult(Napi::Env env, int rc, const char* call) {
  Napi::Error e = Napi::Error::New(env, std::string(call) + " failed");
  if (rc == kResultUnsupported) {
    e.Value().Set("unsupported", Napi::Boolean::New(env, true));
  } else {
    e.Value().Set("errno", Napi::Number::New(env, rc));
  }
  e.Value().Set("syscall", Napi::String::New(env, call));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// exePath(pid) -> string; throws { errno } or { unsupported }
Napi::Value ExePathJs(const Napi::CallbackInfo& info) {
  std::string path;
  int rc = ExePath(info[0].As<Napi::Number>().Int32Value(), &path);
  if (rc != 0) return ThrowResult(info.Env(), rc, "exePath");
  return Napi::String::New(info.Env(), path);
}

// startTime(pid) -> opaque string; throws { errno } or { unsupported }
Napi::Value StartTimeJs(const Napi::CallbackInfo& info) {
  std::string token;
  int rc = StartTime(info[0].As<Napi::Number>().Int32Value(), &token);
  if (rc != 0) return ThrowResult(info.Env(), rc, "startTime");
  return Napi::String::New(info.Env(), token);
}

// pidfdAlive(pidfd) -> 0 | errno | kResultUnsupported
Napi::Value PidfdAliveJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), PidfdAlive(info[0].As<Napi::Number>().Int32Value()));
}

// setChildSubreaper() -> 0 | errno | kResultUnsupported
Napi::Value SetChildSubreaperJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), SetChildSubreaper());
}

// reapChild(pid) -> true once collected, false while it runs; throws { errno } or { unsupported }
Napi::Value ReapChildJs(const Napi::CallbackInfo& info) {
  bool reaped = false;
  int rc = ReapChild(info[0].As<Napi::Number>().Int32Value(), &reaped);
  if (rc != 0) return ThrowResult(info.Env(), rc, "waitpid");
  return Napi::Boolean::New(info.Env(), reaped);
}

// unixSocketName(fd) -> the path a Unix socket is bound to ("@name" for an abstract one), or null when
// the fd is not a bound Unix socket. Node reports no name for a socket it was handed as an fd.
Napi::Value UnixSocketNameJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct sockaddr_un addr;
  std::memset(&addr, 0, sizeof addr);
  socklen_t len = sizeof addr;
  if (getsockname(info[0].As<Napi::Number>().Int32Value(), reinterpret_cast<struct sockaddr*>(&addr), &len) != 0 ||
      addr.sun_family != AF_UNIX)
    return env.Null();
  size_t offset = offsetof(struct sockaddr_un, sun_path);
  if (len <= offset) return env.Null();
  size_t n = len - offset;
  if (addr.sun_path[0] == '\0') return Napi::String::New(env, "@" + std::string(addr.sun_path + 1, n - 1));
  return Napi::String::New(env, std::string(addr.sun_path, strnlen(addr.sun_path, n)));
}

Napi::Object Numbers(Napi::Env env, std::initializer_list<std::pair<const char*, uint32_t>> entries) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& [name, value] : entries) o.Set(name, Napi::Number::New(env, value));
  return o;
}

// The result buffer's layout and the flag bits (platform.h), so JavaScript never keeps a copy of them.
Napi::Object Layout(Napi::Env env) {
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("slots", Numbers(env, {{"flags", kSlotFlags},
                                    {"pid", kSlotPid},
                                    {"uid", kSlotUid},
                                    {"gid", kSlotGid},
                                    {"ngroups", kSlotNgroups},
                                    {"groups", kSlotGroups}}));
  layout.Set("flags", Numbers(env, {{"pid", kFlagPid}, {"groups", kFlagGroups}}));
  layout.Set("support", Numbers(env, {{"pid", kSupportPid},
                                      {"groups", kSupportGroups},
                                      {"pidfd", kSupportPidfd},
                                      {"credentials", kSupportCredentials}}));
  return layout;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  napi_set_instance_data(env, new State(), DeleteState, nullptr);

  napi_property_descriptor hot[] = {
      {"setBuffer", nullptr, SetBuffer, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"readPeer", nullptr, ReadPeerJs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"openPidfd", nullptr, OpenPidfdJs, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof hot / sizeof hot[0], hot);

  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("probe", Napi::Function::New(env, ProbeJs, "probe"));
  exports.Set("exePath", Napi::Function::New(env, ExePathJs, "exePath"));
  exports.Set("startTime", Napi::Function::New(env, StartTimeJs, "startTime"));
  exports.Set("pidfdAlive", Napi::Function::New(env, PidfdAliveJs, "pidfdAlive"));
  exports.Set("setChildSubreaper", Napi::Function::New(env, SetChildSubreaperJs, "setChildSubreaper"));
  exports.Set("reapChild", Napi::Function::New(env, ReapChildJs, "reapChild"));
  exports.Set("unixSocketName", Napi::Function::New(env, UnixSocketNameJs, "unixSocketName"));
  exports.Set("unsupportedReason", Napi::String::New(env, UnsupportedReason()));
  exports.Set("resultNeedMore", Napi::Number::New(env, kResultNeedMore));
  exports.Set("resultUnsupported", Napi::Number::New(env, kResultUnsupported));
  exports.Set("layout", Layout(env));
  RegisterLookups(env, exports);
  return exports;
}

}  // namespace
}  // namespace peerauth

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return peerauth::Init(env, exports); }

NODE_API_MODULE(peerauth_core, InitAddon)
