// Linux: SO_PEERCRED (pid, uid, gid), SO_PEERGROUPS (supplementary groups, 4.13+) and
// SO_PEERPIDFD (6.5+). Older libc headers lack the newer constants; the values are ABI.
#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "platform.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static_assert(sizeof(gid_t) == sizeof(uint32_t), "groups are copied into a uint32 buffer");
static_assert(sizeof(uid_t) == sizeof(uint32_t), "uids are stored in a uint32 slot");

namespace peerauth {

int ReadPeer(int fd, uint32_t* out, uint32_t cap) {
  struct ucred uc;
  socklen_t len = sizeof uc;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0) return errno;
  if (len != sizeof uc) return EPROTO;
  // A socket without a peer (listening, never connected) reports the overflow ids -1/-1 and pid 0
  // rather than failing. That is not an identity.
  if (uc.uid == static_cast<uid_t>(-1) || uc.gid == static_cast<gid_t>(-1)) return ENOTCONN;

  uint32_t flags = 0;
  const uint32_t room = cap > kSlotGroups ? cap - kSlotGroups : 0;
  socklen_t glen = static_cast<socklen_t>(room * sizeof(gid_t));
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, out + kSlotGroups, &glen) == 0) {
    flags |= kFlagGroups;
    out[kSlotNgroups] = static_cast<uint32_t>(glen / sizeof(gid_t));
  } else if (errno == ERANGE) {
    // The kernel wrote the needed length into glen; the caller grows the buffer and asks again.
    out[kSlotNgroups] = static_cast<uint32_t>(glen / sizeof(gid_t));
    return kResultNeedMore;
  } else if (errno != ENOPROTOOPT) {
    return errno;
  }

  // pid 0: the peer lives in a pid namespace we cannot see into; report no pid rather than 0.
  if (uc.pid > 0) {
    flags |= kFlagPid;
    out[kSlotPid] = static_cast<uint32_t>(uc.pid);
  }
  out[kSlotUid] = uc.uid;
  out[kSlotGid] = uc.gid;
  out[kSlotFlags] = flags;
  return 0;
}

int OpenPeerPidfd(int fd, int* pidfd) {
  int pfd = -1;
  socklen_t len = sizeof pfd;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pfd, &len) != 0) {
    // Kernels before 6.5 do not know the option.
    if (errno == ENOPROTOOPT) return kResultUnsupported;
    return errno;
  }
  if (len != sizeof pfd || pfd < 0) return EPROTO;
  *pidfd = pfd;
  return 0;
}

uint32_t Probe() {
  uint32_t support = kSupportCredentials;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return support | kSupportPid;
  struct ucred uc;
  socklen_t len = sizeof uc;
  if (getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0 && uc.pid > 0) support |= kSupportPid;
  gid_t g[1];
  len = 0;
  // A zero-length buffer answers ERANGE (or success with no groups) when the option exists.
  if (getsockopt(sv[0], SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0 || errno == ERANGE) support |= kSupportGroups;
  int pfd = -1;
  len = sizeof pfd;
  if (getsockopt(sv[0], SOL_SOCKET, SO_PEERPIDFD, &pfd, &len) == 0 && pfd >= 0) {
    support |= kSupportPidfd;
    close(pfd);
  }
  close(sv[0]);
  close(sv[1]);
  return support;
}

const char* UnsupportedReason() { return ""; }

}  // namespace peerauth
