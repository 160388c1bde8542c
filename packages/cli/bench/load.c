// Keep-alive HTTP/1.1 load over a Unix socket or 127.0.0.1:port: N connections, one request in flight on each,
// for a given time or until a given number of responses (checked between epoll rounds); prints "<responses> <non-200 responses>", then on a second line each request's latency
// (request written to response complete, whole µs, 1 s and over counted as 1 s) as "us:count" pairs. One thread on epoll, so the client costs little
// next to what it measures. Responses must carry Content-Length (the bench upstream always does).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAXC 256
#define BUF 65536

static const char REQ[] = "GET /bench HTTP/1.1\r\nHost: localhost\r\nUser-Agent: peerauth-bench\r\nAccept: */*\r\n\r\n";

struct conn { int fd; char buf[BUF]; size_t len; long long sent_us; };

#define MAX_US 1000000
static unsigned int hist[MAX_US + 1];

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int open_conn(const char *target) {
  int fd;
  if (target[0] == '/') {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, target, sizeof a.sun_path - 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); exit(1); }
  } else {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(target))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); exit(1); }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

static void send_req(struct conn *c) {
  c->sent_us = now_us();
  if (write(c->fd, REQ, sizeof REQ - 1) != (ssize_t)(sizeof REQ - 1)) { perror("write"); exit(1); }
}

// Length of the first complete response in c->buf, or 0 if it is not all there yet.
static size_t complete(struct conn *c, int *ok) {
  char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
  if (!end) return 0;
  size_t head = (size_t)(end - c->buf) + 4;
  char *cl = memmem(c->buf, head, "ontent-Length:", 14);
  if (!cl) cl = memmem(c->buf, head, "ontent-length:", 14);
  if (!cl) { fprintf(stderr, "response without Content-Length\n"); exit(1); }
  size_t body = strtoul(cl + 14, NULL, 10);
  if (c->len < head + body) return 0;
  *ok = c->len > 12 && memcmp(c->buf + 9, "200", 3) == 0;
  return head + body;
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: load <socket path | port> <connections> <ms> [max responses]\n");
    return 2;
  }
  int n = atoi(argv[2]);
  long long ms = atoll(argv[3]);
  long long max = argc == 5 ? atoll(argv[4]) : -1;
  if (n < 1 || n > MAXC) { fprintf(stderr, "connections: 1..%d\n", MAXC); return 2; }
  static struct conn conns[MAXC];
  int ep = epoll_create1(0);
  for (int i = 0; i < n; i++) {
    conns[i].fd = open_conn(argv[1]);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    send_req(&conns[i]);
  }
  long long done = 0, bad = 0, deadline = now_us() + ms * 1000;
  struct epoll_event evs[MAXC];
  while (now_us() < deadline && (max < 0 || done < max)) {
    int k = epoll_wait(ep, evs, MAXC, 100);
    for (int e = 0; e < k; e++) {
      struct conn *c = evs[e].data.ptr;
      ssize_t r = read(c->fd, c->buf + c->len, BUF - c->len);
      if (r <= 0) { fprintf(stderr, "connection closed by the server after %lld responses\n", done); return 1; }
      c->len += (size_t)r;
      int ok;
      size_t used;
      while ((used = complete(c, &ok)) > 0) {
        done++;
        if (!ok) bad++;
        long long us = now_us() - c->sent_us;
        hist[us > MAX_US ? MAX_US : us]++;
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        send_req(c);
      }
    }
  }
  printf("%lld %lld\n", done, bad);
  for (int us = 0; us <= MAX_US; us++)
    if (hist[us]) printf("%d:%u ", us, hist[us]);
  printf("\n");
  return 0;
}
