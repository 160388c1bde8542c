// No known way to name a process's executable on this OS.
#include <string>

#include "platform.h"

namespace peerauth {

int ExePath(int, std::string*) { return kResultUnsupported; }
int StartTime(int, std::string*) { return kResultUnsupported; }
int PidfdAlive(int) { return kResultUnsupported; }
int SetChildSubreaper() { return kResultUnsupported; }
int ReapChild(int, bool*) { return kResultUnsupported; }

}  // namespace peerauth
