// getpwuid_r / getpwnam_r / getgrgid_r / getgrouplist with buffers sized from sysconf and grown on
// ERANGE. Strings go through napi_create_string_utf8, which substitutes U+FFFD for bad bytes: a user or
// group name that is not valid UTF-8 is refused (EILSEQ) instead, since two such names (q\xff, q\xfe)
// would decode to one string and share a selector and a person.
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "lookups.h"

namespace peerauth {
namespace {

constexpr size_t kMaxBuffer = 1u << 24;  // an entry larger than 16 MiB is treated as an error

size_t InitialSize(int name) {
  long n = sysconf(name);
  return n > 0 ? static_cast<size_t>(n) : 16384;
}

Napi::Value ThrowErrno(Napi::Env env, int err, const char* call) {
  Napi::Error e = Napi::Error::New(env, std::string(call) + " failed: " + strerror(err));
  e.Value().Set("errno", Napi::Number::New(env, err));
  e.Value().Set("syscall", Napi::String::New(env, call));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// Well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool ValidUtf8(const char* s) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s);
  while (*p) {
    unsigned char c = *p;
    size_t n;
    unsigned int cp;
    if (c < 0x80) {
      p++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t i = 1; i <= n; i++) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += n + 1;
  }
  return true;
}

Napi::Value ThrowNotUtf8(Napi::Env env, const char* call, const char* what) {
  Napi::Error e = Napi::Error::New(env, std::string(call) + ": the " + what + " name is not valid UTF-8");
  e.Value().Set("errno", Napi::Number::New(env, EILSEQ));
  e.Value().Set("syscall", Napi::String::New(env, call));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value PasswdToObject(Napi::Env env, const struct passwd* pw) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("uid", Napi::Number::New(env, pw->pw_uid));
  o.Set("gid", Napi::Number::New(env, pw->pw_gid));
  o.Set("name", Napi::String::New(env, pw->pw_name ? pw->pw_name : ""));
  o.Set("home", Napi::String::New(env, pw->pw_dir ? pw->pw_dir : ""));
  o.Set("shell", Napi::String::New(env, pw->pw_shell ? pw->pw_shell : ""));
  return o;
}

template <typename Call>
Napi::Value LookupPasswd(Napi::Env env, const char* name, Call call) {
  std::vector<char> buf(InitialSize(_SC_GETPW_R_SIZE_MAX));
  for (;;) {
    struct passwd pw;
    struct passwd* result = nullptr;
    int rc = call(&pw, buf.data(), buf.size(), &result);
    if (rc == ERANGE && buf.size() < kMaxBuffer) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc == 0 && result) {
      if (result->pw_name && !ValidUtf8(result->pw_name)) return ThrowNotUtf8(env, name, "user");
      return PasswdToObject(env, result);
    }
    // No entry is a normal answer; some NSS modules say so with ENOENT instead of a null result.
    if (rc == 0 || rc == ENOENT) return env.Null();
    return ThrowErrno(env, rc, name);
  }
}

Napi::Value GetPwUid(const Napi::CallbackInfo& info) {
  uid_t uid = static_cast<uid_t>(info[0].As<Napi::Number>().Uint32Value());
  return LookupPasswd(info.Env(), "getpwuid_r", [uid](struct passwd* pw, char* b, size_t n, struct passwd** r) {
    return getpwuid_r(uid, pw, b, n, r);
  });
}

Napi::Value GetPwNam(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  return LookupPasswd(info.Env(), "getpwnam_r", [&name](struct passwd* pw, char* b, size_t n, struct passwd** r) {
    return getpwnam_r(name.c_str(), pw, b, n, r);
  });
}

Napi::Value GetGrGid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  gid_t gid = static_cast<gid_t>(info[0].As<Napi::Number>().Uint32Value());
  std::vector<char> buf(InitialSize(_SC_GETGR_R_SIZE_MAX));
  for (;;) {
    struct group gr;
    struct group* result = nullptr;
    int rc = getgrgid_r(gid, &gr, buf.data(), buf.size(), &result);
    if (rc == ERANGE && buf.size() < kMaxBuffer) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc == 0 && result) {
      if (result->gr_name && !ValidUtf8(result->gr_name)) return ThrowNotUtf8(env, "getgrgid_r", "group");
      Napi::Object o = Napi::Object::New(env);
      o.Set("gid", Napi::Number::New(env, result->gr_gid));
      o.Set("name", Napi::String::New(env, result->gr_name ? result->gr_name : ""));
      Napi::Array members = Napi::Array::New(env);
      uint32_t i = 0;
      for (char** m = result->gr_mem; m && *m; m++) members.Set(i++, Napi::String::New(env, *m));
      o.Set("members", members);
      return o;
    }
    if (rc == 0 || rc == ENOENT) return env.Null();
    return ThrowErrno(env, rc, "getgrgid_r");
  }
}

Napi::Value GetGroupList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  gid_t primary = static_cast<gid_t>(info[1].As<Napi::Number>().Uint32Value());
  int n = 64;
  for (;;) {
#ifdef __APPLE__
    // macOS declares the list as int and does not report the size it needed: just double.
    std::vector<int> groups(static_cast<size_t>(n));
    int count = n;
    int rc = getgrouplist(name.c_str(), static_cast<int>(primary), groups.data(), &count);
#else
    std::vector<gid_t> groups(static_cast<size_t>(n));
    int count = n;
    int rc = getgrouplist(name.c_str(), primary, groups.data(), &count);
#endif
    if (rc < 0) {
      if (n >= (1 << 20)) return ThrowErrno(env, ERANGE, "getgrouplist");
      n = count > n ? count : n * 2;
      continue;
    }
    Napi::Array out = Napi::Array::New(env, static_cast<size_t>(count));
    for (int i = 0; i < count; i++) {
      out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<uint32_t>(groups[static_cast<size_t>(i)])));
    }
    return out;
  }
}

}  // namespace

void RegisterLookups(Napi::Env env, Napi::Object exports) {
  exports.Set("getpwuid", Napi::Function::New(env, GetPwUid, "getpwuid"));
  exports.Set("getpwnam", Napi::Function::New(env, GetPwNam, "getpwnam"));
  exports.Set("getgrgid", Napi::Function::New(env, GetGrGid, "getgrgid"));
  exports.Set("getgrouplist", Napi::Function::New(env, GetGroupList, "getgrouplist"));
}

}  // namespace peerauth
