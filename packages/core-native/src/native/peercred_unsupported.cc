// Every other OS: the addon still builds so the package installs, and every call reports that peer
// credentials are unavailable instead of returning anything made up.
#include "platform.h"

namespace peerauth {

int ReadPeer(int, uint32_t*, uint32_t) { return kResultUnsupported; }
int OpenPeerPidfd(int, int*) { return kResultUnsupported; }
uint32_t Probe() { return 0; }
const char* UnsupportedReason() {
  return "this operating system has no peer-credential socket option known to peerauth";
}

}  // namespace peerauth
