// LD_PRELOAD library for tests: makes chosen NSS lookups sleep or fail, so the suite can run a real
// server against a user database that hangs or breaks for some ids and works for the rest.
//
// PEERAUTH_NSS_FAULTS is a ';'-separated list of CALL=KEY:ACTION rules, for example
//   getpwuid_r=4002:sleep3000;getpwuid_r=4003:EIO;getgrgid_r=5001:ERANGE;getpwnam_r=pa_x:EIO
// CALL is getpwuid_r, getpwnam_r, getgrgid_r or getgrnam_r; KEY is the uid/gid, or a range FIRST-LAST of
// them (getpwuid_r=50000-59999:sleep400: every uid from 50000 to 59999), or the name for the *nam_r calls; ACTION is sleepMS (sleep, then answer normally), sleepMS+ERRNO (sleep, then fail),
// an errno name: EIO, ERANGE, EAGAIN, ENOMEM, EMFILE (ERANGE is returned whatever the buffer size, as a
// broken module would), or, for getpwuid_r and getgrgid_r, nameHEX (the real entry, renamed to the
// hex-decoded bytes). Calls that match no rule go to the real libc function.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int errno_from_name(const char* s) {
  if (strcmp(s, "EIO") == 0) return EIO;
  if (strcmp(s, "ERANGE") == 0) return ERANGE;
  if (strcmp(s, "EAGAIN") == 0) return EAGAIN;
  if (strcmp(s, "ENOMEM") == 0) return ENOMEM;
  if (strcmp(s, "EMFILE") == 0) return EMFILE;
  return 0;
}

// True when `key` (all digits) lies in the range FIRST-LAST written in rule_key[0..len).
static int in_range(const char* rule_key, size_t len, const char* key) {
  char buf[64];
  if (len >= sizeof buf || key[0] == 0 || strspn(key, "0123456789") != strlen(key)) return 0;
  memcpy(buf, rule_key, len);
  buf[len] = 0;
  char* dash = strchr(buf, '-');
  if (!dash || dash == buf || dash[1] == 0) return 0;
  *dash = 0;
  if (strspn(buf, "0123456789") != strlen(buf) || strspn(dash + 1, "0123456789") != strlen(dash + 1)) return 0;
  unsigned long long k = strtoull(key, NULL, 10);
  return strtoull(buf, NULL, 10) <= k && k <= strtoull(dash + 1, NULL, 10);
}

// Copies the ACTION of the first rule matching CALL and KEY into `action`; returns 0 when none matches.
static int find_rule(const char* call, const char* key, char* action, size_t action_size) {
  const char* spec = getenv("PEERAUTH_NSS_FAULTS");
  if (!spec || !*spec) return 0;
  size_t call_len = strlen(call);
  size_t key_len = strlen(key);
  const char* p = spec;
  while (*p) {
    const char* end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char rule[256];
    if (len < sizeof rule) {
      memcpy(rule, p, len);
      rule[len] = 0;
      char* eq = strchr(rule, '=');
      char* colon = eq ? strrchr(eq, ':') : NULL;
      size_t rule_key_len = colon && eq ? (size_t)(colon - eq - 1) : 0;
      if (eq && colon && (size_t)(eq - rule) == call_len && strncmp(rule, call, call_len) == 0 &&
          ((rule_key_len == key_len && strncmp(eq + 1, key, key_len) == 0) ||
           in_range(eq + 1, rule_key_len, key))) {
        snprintf(action, action_size, "%s", colon + 1);
        return 1;
      }
    }
    if (!end) break;
    p = end + 1;
  }
  return 0;
}

// Returns the errno to fail with (0 = call the real function) after any sleep the rule asks for.
static int apply_fault(const char* call, const char* key) {
  char action[256];
  if (!find_rule(call, key, action, sizeof action)) return 0;
  int err = 0;
  if (strncmp(action, "sleep", 5) == 0) {
    char* rest = NULL;
    long ms = strtol(action + 5, &rest, 10);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    if (rest && *rest == '+') err = errno_from_name(rest + 1);
  } else {
    err = errno_from_name(action);
  }
  return err;
}

// ACTION nameHEX: the real entry is returned with its name replaced by the hex-decoded bytes, so tests
// can give a user database names that useradd would refuse (control characters). The name lives in
// thread-local storage: callers copy it before their next lookup on the same thread, as with getpwuid.
static __thread char renamed_buf[128];
static char* renamed(const char* call, const char* key) {
  char action[256];
  if (!find_rule(call, key, action, sizeof action) || strncmp(action, "name", 4) != 0) return NULL;
  const char* hex = action + 4;
  size_t len = strlen(hex) / 2;
  if (len >= sizeof renamed_buf) return NULL;
  for (size_t i = 0; i < len; i++) {
    unsigned int byte = 0;
    sscanf(hex + 2 * i, "%2x", &byte);
    renamed_buf[i] = (char)byte;
  }
  renamed_buf[len] = 0;
  return renamed_buf;
}

#define REAL(name, type) ((type)dlsym(RTLD_NEXT, name))

typedef int (*pwuid_fn)(uid_t, struct passwd*, char*, size_t, struct passwd**);
typedef int (*pwnam_fn)(const char*, struct passwd*, char*, size_t, struct passwd**);
typedef int (*grgid_fn)(gid_t, struct group*, char*, size_t, struct group**);
typedef int (*grnam_fn)(const char*, struct group*, char*, size_t, struct group**);

int getpwuid_r(uid_t uid, struct passwd* pw, char* buf, size_t n, struct passwd** out) {
  char key[32];
  snprintf(key, sizeof key, "%u", (unsigned)uid);
  int err = apply_fault("getpwuid_r", key);
  if (err) {
    *out = NULL;
    return err;
  }
  int rc = REAL("getpwuid_r", pwuid_fn)(uid, pw, buf, n, out);
  if (rc == 0 && *out) {
    char* name = renamed("getpwuid_r", key);
    if (name) pw->pw_name = name;
  }
  return rc;
}

int getpwnam_r(const char* name, struct passwd* pw, char* buf, size_t n, struct passwd** out) {
  int err = apply_fault("getpwnam_r", name);
  if (err) {
    *out = NULL;
    return err;
  }
  return REAL("getpwnam_r", pwnam_fn)(name, pw, buf, n, out);
}

int getgrgid_r(gid_t gid, struct group* gr, char* buf, size_t n, struct group** out) {
  char key[32];
  snprintf(key, sizeof key, "%u", (unsigned)gid);
  int err = apply_fault("getgrgid_r", key);
  if (err) {
    *out = NULL;
    return err;
  }
  int rc = REAL("getgrgid_r", grgid_fn)(gid, gr, buf, n, out);
  if (rc == 0 && *out) {
    char* name = renamed("getgrgid_r", key);
    if (name) gr->gr_name = name;
  }
  return rc;
}

int getgrnam_r(const char* name, struct group* gr, char* buf, size_t n, struct group** out) {
  int err = apply_fault("getgrnam_r", name);
  if (err) {
    *out = NULL;
    return err;
  }
  return REAL("getgrnam_r", grnam_fn)(name, gr, buf, n, out);
}
