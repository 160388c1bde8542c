// Go's httputil.ReverseProxy on a Unix socket, as the bench runs it beside `peerauth proxy`: each client
// connection's SO_PEERCRED is read once, when it is accepted, and every request through it goes upstream
// with the caller's uid in X-Peer-Uid. The Transport keeps its upstream connections alive. It answers
// bench/run.mjs's "mark" / "report" on stdin with the process's CPU time (getrusage: all threads, user +
// system). Linux only. Usage: go-proxy <socket path> <upstream port>
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"syscall"
)

type uidKey struct{}

func cpuMicros() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return ru.Utime.Sec*1e6 + int64(ru.Utime.Usec) + ru.Stime.Sec*1e6 + int64(ru.Stime.Usec)
}

func peerUID(c net.Conn) string {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ""
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ""
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || credErr != nil || cred == nil {
		return ""
	}
	return strconv.FormatUint(uint64(cred.Uid), 10)
}

func main() {
	path, port := os.Args[1], os.Args[2]
	target, _ := url.Parse("http://127.0.0.1:" + port)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	direct := proxy.Director
	proxy.Director = func(r *http.Request) {
		direct(r)
		r.Header.Set("X-Peer-Uid", r.Context().Value(uidKey{}).(string))
	}
	server := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Context().Value(uidKey{}).(string) == "" {
				http.Error(w, "no peer credentials", http.StatusForbidden)
				return
			}
			proxy.ServeHTTP(w, r)
		}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, uidKey{}, peerUID(c))
		},
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go server.Serve(ln)
	fmt.Println("listening on " + path)
	mark := cpuMicros()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "mark":
			mark = cpuMicros()
			fmt.Println("ok")
		case "report":
			out, _ := json.Marshal(map[string]int64{"cpuUs": cpuMicros() - mark})
			fmt.Println(string(out))
		}
	}
	ln.Close()
	os.Remove(path)
}
