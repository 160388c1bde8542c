// Linux process facts from procfs, and pidfd liveness through pidfd_send_signal(2).
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "platform.h"

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace peerauth {

int ExePath(int pid, std::string* out) {
  char link[64];
  snprintf(link, sizeof link, "/proc/%d/exe", pid);
  std::string buf(PATH_MAX, '\0');
  for (;;) {
    ssize_t n = readlink(link, &buf[0], buf.size());
    if (n < 0) return errno;
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(static_cast<size_t>(n));
      *out = std::move(buf);
      return 0;
    }
    // Possibly truncated: readlink does not say, so retry with more room.
    buf.resize(buf.size() * 2);
  }
}

int StartTime(int pid, std::string* out) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  int err = errno;
  close(fd);
  if (n <= 0) return n < 0 ? err : ESRCH;
  buf[n] = '\0';
  // comm (field 2) may contain spaces and parentheses: fields resume after the last ')'.
  char* p = strrchr(buf, ')');
  if (!p) return EPROTO;
  p++;
  // After ')' comes field 3 (state); starttime is field 22, i.e. the 20th token from here.
  int field = 2;
  char* save = nullptr;
  for (char* tok = strtok_r(p, " ", &save); tok; tok = strtok_r(nullptr, " ", &save)) {
    if (++field == 22) {
      *out = tok;
      return 0;
    }
  }
  return EPROTO;
}

int PidfdAlive(int pidfd) {
  if (syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) == 0) return 0;
  return errno;
}

int SetChildSubreaper() { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : errno; }

int ReapChild(int pid, bool* reaped) {
  int status = 0;
  pid_t rc;
  do rc = waitpid(pid, &status, WNOHANG);
  while (rc == -1 && errno == EINTR);
  if (rc == -1) return errno;
  *reaped = rc == pid;
  return 0;
}

}  // namespace peerauth
