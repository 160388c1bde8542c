// The seam between the N-API glue (addon.cc, lookup_*.cc) and the one per-OS source that binding.gyp
// picks. Everything here is plain C++ with errno-style results so the hot path never builds JS
// exceptions or objects: the glue decides how a failure reaches JavaScript.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace peerauth {

// Layout of the result buffer shared with JavaScript (a Uint32Array). JS builds the plain object.
enum : uint32_t {
  kSlotFlags = 0,
  kSlotPid = 1,
  kSlotUid = 2,
  kSlotGid = 3,
  kSlotNgroups = 4,
  kSlotGroups = 5,  // groups occupy [kSlotGroups, kSlotGroups + ngroups)
};

enum : uint32_t {
  kFlagPid = 1u << 0,     // kSlotPid holds a pid the kernel reported
  kFlagGroups = 1u << 1,  // kSlotNgroups/kSlotGroups hold the supplementary groups
};

// Negative results: not errno values.
constexpr int kResultUnsupported = -1;  // this platform cannot answer at all
constexpr int kResultNeedMore = -2;     // groups did not fit; kSlotNgroups holds the count needed

// Probe flags returned by Probe(): what this OS and running kernel give.
enum : uint32_t {
  kSupportPid = 1u << 0,
  kSupportGroups = 1u << 1,
  kSupportPidfd = 1u << 2,
  kSupportCredentials = 1u << 3,
};

// Reads the peer of a connected AF_UNIX socket into out[0..cap). Returns 0, a positive errno,
// kResultNeedMore or kResultUnsupported. Never leaves a half-filled success: on any non-zero result
// the caller must ignore the buffer (except kSlotNgroups on kResultNeedMore).
int ReadPeer(int fd, uint32_t* out, uint32_t cap);

// Opens a pidfd for the peer (SO_PEERPIDFD). Returns 0 and sets *pidfd, a positive errno, or
// kResultUnsupported when this OS or kernel has no such option.
int OpenPeerPidfd(int fd, int* pidfd);

// Probes this OS and kernel with a real socketpair.
uint32_t Probe();

// Why credentials are unavailable here (only meaningful when Probe() lacks kSupportCredentials).
const char* UnsupportedReason();

// --- process information (procinfo_<os>.cc) ---

// Path of the executable of pid. Returns 0, a positive errno or kResultUnsupported.
int ExePath(int pid, std::string* out);

// An opaque start-time token for pid (clock ticks since boot on Linux, seconds.micros on macOS).
// Returns 0, a positive errno (ESRCH/ENOENT when gone) or kResultUnsupported.
int StartTime(int pid, std::string* out);

// 0 if the process behind pidfd is still running (or a zombie not yet reaped, whose pid cannot be
// reused), ESRCH once it has exited, another errno, or kResultUnsupported.
int PidfdAlive(int pidfd);

// --- descendants (procinfo_<os>.cc) ---

// Makes this process the subreaper of its descendants (Linux PR_SET_CHILD_SUBREAPER): an orphan, whatever
// session or process group it made, becomes our child rather than init's. Returns 0, a positive errno or
// kResultUnsupported.
int SetChildSubreaper();

// Collects pid if it is an ended child of this process (waitpid WNOHANG), so orphans left to us do not stay
// zombies. Returns 0 and sets *reaped, a positive errno (ECHILD: not our child) or kResultUnsupported.
int ReapChild(int pid, bool* reaped);

}  // namespace peerauth
