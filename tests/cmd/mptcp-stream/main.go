// Command mptcp-stream is the test and benchmark peer of mptcp-pm: an MPTCP
// echo server, and a client that streams sequence-numbered records and
// prints what it saw as JSON (see package tests/stream).
//
//	mptcp-stream server -listen 0.0.0.0:5201
//	mptcp-stream client -local 10.0.1.2 -remote 10.0.3.2:5201 -duration 8s
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/mptcp-pm/mptcp-pm/tests/stream"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mptcp-stream server|client [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = server(os.Args[2:])
	case "client":
		err = client(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (want server or client)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mptcp-stream:", err)
		os.Exit(1)
	}
}

func server(args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	listen := fs.String("listen", "0.0.0.0:5201", "address to listen on")
	tcp := fs.Bool("tcp", false, "plain TCP instead of MPTCP")
	_ = fs.Parse(args)
	var lc net.ListenConfig
	lc.SetMultipathTCP(!*tcp)
	ln, err := lc.Listen(context.Background(), "tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Println("listening", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go stream.Echo(c)
	}
}

func client(args []string) error {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	local := fs.String("local", "", "local address to bind (default: any)")
	remote := fs.String("remote", "", "server address:port")
	duration := fs.Duration("duration", 5*time.Second, "how long to stream")
	interval := fs.Duration("interval", 10*time.Millisecond, "time between records")
	size := fs.Int("size", 100, "record size in bytes")
	tcp := fs.Bool("tcp", false, "plain TCP instead of MPTCP")
	_ = fs.Parse(args)
	d := net.Dialer{Timeout: 5 * time.Second}
	d.SetMultipathTCP(!*tcp)
	if *local != "" {
		ip := net.ParseIP(*local)
		if ip == nil {
			return fmt.Errorf("invalid -local %q", *local)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	c, err := d.Dial("tcp", *remote)
	if err != nil {
		return err
	}
	defer c.Close()
	mptcp, _ := c.(*net.TCPConn).MultipathTCP()
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	fmt.Fprintf(os.Stderr, "streaming %s -> %s (mptcp %v)\n", c.LocalAddr(), c.RemoteAddr(), mptcp)
	r := stream.Run(ctx, c, *interval, *size, 10*time.Second)
	out := struct {
		stream.Result
		MaxGapMS float64 `json:"max_gap_ms"`
		Local    string  `json:"local"`
		MPTCP    bool    `json:"mptcp"`
	}{r, r.MaxGapMS(), c.LocalAddr().String(), mptcp}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		return err
	}
	if r.Err != "" {
		return fmt.Errorf("stream failed: %s", r.Err)
	}
	return nil
}
