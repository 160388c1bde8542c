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

#include "xucred.h"

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
  int rc = ReadXucred(fd, &xu, XU_NGROUPS);
  if (rc != 0) return rc;
#if PEERAUTH_HAVE_CR_PID
  if (xu.cr_pid > 0) return WriteXucred(xu, static_cast<uint32_t>(xu.cr_pid), kFlagPid, out, cap);
#endif
  return WriteXucred(xu, 0, 0, out, cap);
}

int OpenPeerPidfd(int, int*) { return kResultUnsupported; }

uint32_t Probe() { return kSupportCredentials | kSupportGroups | (PEERAUTH_HAVE_CR_PID ? kSupportPid : 0); }

const char* UnsupportedReason() { return ""; }

}  // namespace peerauth
