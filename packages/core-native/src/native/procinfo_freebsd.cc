// FreeBSD process facts through sysctl(3) (kern.proc.pathname, kern.proc.pid). No pidfd here.
#include <errno.h>
#include <sys/param.h>
#include <sys/sysctl.h>
#include <sys/types.h>
#include <sys/user.h>

#include <cstdio>
#include <string>

#include "platform.h"

namespace peerauth {

int ExePath(int pid, std::string* out) {
  int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PATHNAME, pid};
  char buf[PATH_MAX];
  size_t len = sizeof buf;
  if (sysctl(mib, 4, buf, &len, nullptr, 0) != 0) return errno;
  if (len == 0) return ESRCH;
  out->assign(buf, len - 1);  // len counts the terminating NUL
  return 0;
}

int StartTime(int pid, std::string* out) {
  int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, pid};
  struct kinfo_proc kp;
  size_t len = sizeof kp;
  if (sysctl(mib, 4, &kp, &len, nullptr, 0) != 0) return errno;
  if (len != sizeof kp) return ESRCH;
  char buf[64];
  snprintf(buf, sizeof buf, "%lld.%06ld", static_cast<long long>(kp.ki_start.tv_sec),
           static_cast<long>(kp.ki_start.tv_usec));
  *out = buf;
  return 0;
}

int PidfdAlive(int) { return kResultUnsupported; }
// Descendants are contained on Linux only (a subreaper); here exec keeps to process groups.
int SetChildSubreaper() { return kResultUnsupported; }
int ReapChild(int, bool*) { return kResultUnsupported; }

}  // namespace peerauth
