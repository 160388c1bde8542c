// Blocking directory lookups (NSS) exported to the worker pool. They may stall for seconds on
// LDAP/SSSD machines, so JavaScript only calls them from worker threads.
#pragma once

#include <napi.h>

namespace peerauth {

void RegisterLookups(Napi::Env env, Napi::Object exports);

}  // namespace peerauth
