// The Go server of the bench: a Unix listener that reads each connection's SO_PEERCRED, writes one byte and
// closes, one goroutine per connection (Go's usual shape). It speaks bench/server.mjs's stdin protocol:
// "mark" and "report", with the CPU time of the whole process (all threads, user + system) from getrusage.
// Built and run by bench/run.mjs when `go` is on PATH. Linux only (SO_PEERCRED).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
)

func cpuMicros() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return ru.Utime.Sec*1e6 + int64(ru.Utime.Usec) + ru.Stime.Sec*1e6 + int64(ru.Stime.Usec)
}

var accepted int64

func serve(c *net.UnixConn) {
	defer c.Close()
	raw, err := c.SyscallConn()
	if err != nil {
		return
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || credErr != nil || cred == nil {
		return
	}
	atomic.AddInt64(&accepted, 1)
	c.Write([]byte("x"))
}

func main() {
	path := os.Args[2]
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		for {
			c, err := ln.AcceptUnix()
			if errors.Is(err, net.ErrClosed) {
				return
			} else if err != nil {
				continue
			}
			go serve(c)
		}
	}()
	fmt.Println("ready")
	mark := cpuMicros()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "mark":
			mark = cpuMicros()
			atomic.StoreInt64(&accepted, 0)
			fmt.Println("ok")
		case "report":
			out, _ := json.Marshal(map[string]int64{"cpuUs": cpuMicros() - mark, "accepted": atomic.LoadInt64(&accepted)})
			fmt.Println(string(out))
		}
	}
	ln.Close()
	os.Remove(path)
}
