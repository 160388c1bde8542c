// What macOS and FreeBSD share in ReadPeer: both answer LOCAL_PEERCRED with a struct xucred whose
// cr_groups[0] is the effective gid and the rest the supplementary groups. Each platform's file gets the
// pid its own way (macOS: LOCAL_PEERPID; FreeBSD 13+: cr_pid) and includes this after its system headers.
#pragma once

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/ucred.h>

#include <cstdint>

#include "platform.h"

namespace peerauth {

// Reads and checks the peer's xucred: 0, or an errno (EPROTO for an answer this code does not understand).
inline int ReadXucred(int fd, struct xucred* xu, int max_groups) {
  socklen_t len = sizeof *xu;
  if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERCRED, xu, &len) != 0) return errno;
  if (len != sizeof *xu || xu->cr_version != XUCRED_VERSION) return EPROTO;
  if (xu->cr_ngroups < 1 || xu->cr_ngroups > max_groups) return EPROTO;
  return 0;
}

// Fills out[0..cap) from a checked xucred, with `pid` when `flags` has kFlagPid. Returns 0, or
// kResultNeedMore (with kSlotNgroups set) when the groups do not fit.
inline int WriteXucred(const struct xucred& xu, uint32_t pid, uint32_t flags, uint32_t* out, uint32_t cap) {
  const uint32_t ngroups = static_cast<uint32_t>(xu.cr_ngroups - 1);
  if (cap < kSlotGroups + ngroups) {
    out[kSlotNgroups] = ngroups;
    return kResultNeedMore;
  }
  for (uint32_t i = 0; i < ngroups; i++) out[kSlotGroups + i] = xu.cr_groups[i + 1];
  out[kSlotNgroups] = ngroups;
  if (flags & kFlagPid) out[kSlotPid] = pid;
  out[kSlotUid] = xu.cr_uid;
  out[kSlotGid] = xu.cr_groups[0];
  out[kSlotFlags] = flags | kFlagGroups;
  return 0;
}

}  // namespace peerauth
