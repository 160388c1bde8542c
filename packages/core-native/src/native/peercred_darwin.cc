// macOS: LOCAL_PEERCRED gives a struct xucred (uid and up to XU_NGROUPS groups, the first being the
// effective gid); the pid needs a second call, LOCAL_PEERPID. There is no pidfd.
#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/ucred.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>

#include "platform.h"
#include "xucred.h"

// What the code below relies on; checked at compile time for both macOS targets by check:darwin.
static_assert(XUCRED_VERSION == 0, "xucred layout version this code was written for");
static_assert(sizeof(uid_t) == sizeof(uint32_t), "cr_uid fits a uint32 slot");
static_assert(sizeof(gid_t) == sizeof(uint32_t), "cr_groups entries fit uint32 slots");
static_assert(sizeof(pid_t) == sizeof(int32_t), "LOCAL_PEERPID writes an int-sized pid_t");
static_assert(offsetof(struct xucred, cr_version) == 0, "cr_version leads the struct");
static_assert(offsetof(struct xucred, cr_uid) == sizeof(u_int), "cr_uid follows cr_version");
// macOS sizes cr_groups with NGROUPS (16): groups past the 16th are silently missing from the kernel's
// answer, which the README documents.
constexpr int kXuGroups = static_cast<int>(sizeof(((struct xucred*)nullptr)->cr_groups) / sizeof(gid_t));
static_assert(kXuGroups == NGROUPS, "cr_groups holds NGROUPS entries");
static_assert(kXuGroups >= 1, "cr_groups[0] (the effective gid) exists");
static_assert(sizeof(((struct xucred*)nullptr)->cr_ngroups) == sizeof(short), "cr_ngroups is a short");

namespace peerauth {

int ReadPeer(int fd, uint32_t* out, uint32_t cap) {
  struct xucred xu;
  int rc = ReadXucred(fd, &xu, kXuGroups);
  if (rc != 0) return rc;

  pid_t pid = 0;
  socklen_t len = sizeof pid;
  if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID, &pid, &len) != 0) return errno;
  if (len != sizeof pid || pid <= 0) return EPROTO;
  return WriteXucred(xu, static_cast<uint32_t>(pid), kFlagPid, out, cap);
}

int OpenPeerPidfd(int, int*) { return kResultUnsupported; }

uint32_t Probe() { return kSupportCredentials | kSupportPid | kSupportGroups; }

const char* UnsupportedReason() { return ""; }

}  // namespace peerauth
