//go:build linux

package bpf

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// Bulk transfer peers, run by the tests as child processes of the test
// binary (see TestMain).

// bulkServer accepts MPTCP connections on addr one at a time and prints,
// for each, the bytes received and the nanoseconds from the first byte
// to EOF.
func bulkServer(addr string) int {
	var lc net.ListenConfig
	lc.SetMultipathTCP(true)
	ln, err := lc.Listen(context.Background(), "tcp4", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	buf := make([]byte, 256<<10)
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		var n int64
		var start time.Time
		for {
			k, err := c.Read(buf)
			if k > 0 && n == 0 {
				start = time.Now()
			}
			n += int64(k)
			if err != nil {
				break
			}
		}
		fmt.Println(n, time.Since(start).Nanoseconds())
		c.Close()
	}
}

// bulkClient sends to "ADDR,DURATION" over MPTCP for DURATION.
func bulkClient(arg string) int {
	addr, ds, _ := strings.Cut(arg, ",")
	d, err := time.ParseDuration(ds)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var dl net.Dialer
	dl.SetMultipathTCP(true)
	c, err := dl.Dial("tcp4", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	buf := make([]byte, 256<<10)
	for end := time.Now().Add(d); time.Now().Before(end); {
		if _, err := c.Write(buf); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if err := c.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
