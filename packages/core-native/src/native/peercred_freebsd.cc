// FreeBSD: LOCAL_PEERCRED gives a struct xucred (uid, groups with the effective gid first) and, since
// FreeBSD 13, the pid in cr_pid. Older headers have no pid: it is reported as absent, not guessed.
#include <errno.h>
#include <sys/param.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/ucred.h>
#include <sys/un.h>
#include <unistd.h>

#include "platform.h"

#ifndef SOL_LOCAL
#define SOL_LOCAL 0
#endif

#if defined(__FreeBSD_version) && __FreeBSD_version >= 1300000
#define PEERAUTH_HAVE_CR_PID 1
#else
#define PEERAUTH_HAVE_CR_PID 0
#endif

static_assert(sizeof(uid_t) == sizeof(uint32_t), "cr_uid fits a uint32 slot");
static_assert(sizeof(gid_t) == sizeof(uint32_t), "cr_groups entries fit uint32 slots");
static_assert(XU_NGROUPS >= 1, "cr_groups[0] (the effective gid) exists");

namespace peerauth {

int ReadPeer(int fd, uint32_t* out, uint32_t cap) {
  struct xucred xu;
  socklen_t len = sizeof xu;
  if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERCRED, &xu, &len) != 0) return errno;
  if (len != sizeof xu || xu.cr_version != XUCRED_VERSION) return EPROTO;
  if (xu.cr_ngroups < 1 || xu.cr_ngroups > XU_NGROUPS) return EPROTO;

  const uint32_t ngroups = static_cast<uint32_t>(xu.cr_ngroups - 1);
  if (cap < kSlotGroups + ngroups) {
    out[kSlotNgroups] = ngroups;
    return kResultNeedMore;
  }
  for (uint32_t i = 0; i < ngroups; i++) out[kSlotGroups + i] = xu.cr_groups[i + 1];
  uint32_t flags = kFlagGroups;
#if PEERAUTH_HAVE_CR_PID
  if (xu.cr_pid > 0) {
    flags |= kFlagPid;
    out[kSlotPid] = static_cast<uint32_t>(xu.cr_pid);
  }
#endif
  out[kSlotNgroups] = ngroups;
  out[kSlotUid] = xu.cr_uid;
  out[kSlotGid] = xu.cr_groups[0];
  out[kSlotFlags] = flags;
  return 0;
}

int OpenPeerPidfd(int, int*) { return kResultUnsupported; }

uint32_t Probe() { return kSupportCredentials | kSupportGroups | (PEERAUTH_HAVE_CR_PID ? kSupportPid : 0); }

const char* UnsupportedReason() { return ""; }
const char* PlatformName() { return "freebsd"; }

}  // namespace peerauth
