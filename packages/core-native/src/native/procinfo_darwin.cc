// macOS process facts through libproc. No pidfd exists, so liveness relies on the start-time check.
#include <errno.h>
#include <libproc.h>
#include <sys/proc_info.h>

#include <cstdio>
#include <string>

#include "platform.h"

namespace peerauth {

int ExePath(int pid, std::string* out) {
  char buf[PROC_PIDPATHINFO_MAXSIZE];
  int n = proc_pidpath(pid, buf, sizeof buf);
  if (n <= 0) return errno ? errno : ESRCH;
  out->assign(buf, static_cast<size_t>(n));
  return 0;
}

int StartTime(int pid, std::string* out) {
  struct proc_bsdinfo info;
  int n = proc_pidinfo(pid, PROC_PIDTBSDINFO, 0, &info, sizeof info);
  if (n != static_cast<int>(sizeof info)) return errno ? errno : ESRCH;
  char buf[64];
  snprintf(buf, sizeof buf, "%llu.%06llu", static_cast<unsigned long long>(info.pbi_start_tvsec),
           static_cast<unsigned long long>(info.pbi_start_tvusec));
  *out = buf;
  return 0;
}

int PidfdAlive(int) { return kResultUnsupported; }
// Descendants are contained on Linux only (a subreaper); here exec keeps to process groups.
int SetChildSubreaper() { return kResultUnsupported; }
int ReapChild(int, bool*) { return kResultUnsupported; }

}  // namespace peerauth
