/* The bare-syscall baseline for bench/run.mjs: the same getsockopt calls getPeerCredentials makes,
 * on a connected AF_UNIX socketpair, in a tight C loop. argv[1] = iterations, argv[2] = mode:
 *   1: one call (Linux SO_PEERCRED; macOS LOCAL_PEERCRED)
 *   2: the full read (Linux SO_PEERCRED + SO_PEERGROUPS; macOS LOCAL_PEERCRED + LOCAL_PEERPID)
 * argv[3] = idle threads to start first (default 0). Linux takes a cheaper fd lookup path in
 * single-threaded processes; Node always runs several threads, so the bench also measures the loop
 * with as many threads as the Node process has.
 * Prints nanoseconds per iteration. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#ifdef __APPLE__
#include <sys/ucred.h>
#endif
#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void* idle(void* arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

int main(int argc, char** argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 1000000;
  int mode = argc > 2 ? atoi(argv[2]) : 1;
  int threads = argc > 3 ? atoi(argv[3]) : 0;
  for (int i = 0; i < threads; i++) {
    pthread_t t;
    if (pthread_create(&t, NULL, idle, NULL) != 0) return perror("pthread_create"), 1;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return perror("socketpair"), 1;
  volatile unsigned sink = 0;
  double start = now_ns();
  for (long i = 0; i < iterations; i++) {
#ifdef __APPLE__
    struct xucred xu;
    socklen_t len = sizeof xu;
    if (getsockopt(sv[0], SOL_LOCAL, LOCAL_PEERCRED, &xu, &len) != 0) return perror("LOCAL_PEERCRED"), 1;
    sink += xu.cr_uid;
    if (mode == 2) {
      pid_t pid;
      len = sizeof pid;
      if (getsockopt(sv[0], SOL_LOCAL, LOCAL_PEERPID, &pid, &len) != 0) return perror("LOCAL_PEERPID"), 1;
      sink += (unsigned)pid;
    }
#else
    struct ucred uc;
    socklen_t len = sizeof uc;
    if (getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0) return perror("SO_PEERCRED"), 1;
    sink += uc.uid;
    if (mode == 2) {
      gid_t groups[64];
      len = sizeof groups;
      if (getsockopt(sv[0], SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0) return perror("SO_PEERGROUPS"), 1;
      sink += len;
    }
#endif
  }
  double elapsed = now_ns() - start;
  printf("%.1f\n", elapsed / (double)iterations);
  return sink == 42 ? 2 : 0;
}
