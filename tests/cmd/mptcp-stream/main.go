// Command mptcp-stream is the test and benchmark peer of mptcp-pm: an MPTCP
// echo server, and a client that streams sequence-numbered records and
// prints what it saw as JSON (see package tests/stream). workloads serves
// the download and request/response workloads, which download and reqresp
// run and check (each prints its result as JSON).
//
//	mptcp-stream server -listen 0.0.0.0:5201
//	mptcp-stream client -local 10.0.1.2 -remote 10.0.3.2:5201 -duration 8s
//	mptcp-stream workloads -listen 0.0.0.0:5202
//	mptcp-stream download -local 10.0.1.2 -remote 10.0.3.2:5202 -duration 8s [-rate 20000000 | -bulk] [-size BYTES]
//	mptcp-stream reqresp -local 10.0.1.2 -remote 10.0.3.2:5202 -duration 8s [-size 65536] [-interval 50ms]
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
		fmt.Fprintln(os.Stderr, "usage: mptcp-stream server|client|workloads|download|reqresp [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = server(os.Args[2:])
	case "client":
		err = client(os.Args[2:])
	case "workloads":
		err = workloads(os.Args[2:])
	case "download", "reqresp":
		err = workload(os.Args[1], os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (want server, client, workloads, download or reqresp)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mptcp-stream:", err)
		os.Exit(1)
	}
}

func server(args []string) error {
	return serve("server", "0.0.0.0:5201", args, func(c net.Conn) { stream.Echo(c) })
}

// serve listens on the -listen address (def by default), MPTCP unless
// -tcp, and runs handle on each connection in a goroutine of its own.
func serve(name, def string, args []string, handle func(net.Conn)) error {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	listen := fs.String("listen", def, "address to listen on")
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
		go handle(c)
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
	c, mptcp, err := dial(*local, *remote, *tcp)
	if err != nil {
		return err
	}
	defer c.Close()
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

func workloads(args []string) error {
	return serve("workloads", "0.0.0.0:5202", args, func(c net.Conn) { _ = stream.Serve(c) })
}

// workload runs the download or reqresp workload against a workloads
// server and prints the result as JSON.
func workload(kind string, args []string) error {
	fs := flag.NewFlagSet(kind, flag.ExitOnError)
	local := fs.String("local", "", "local address to bind (default: any)")
	remote := fs.String("remote", "", "workloads server address:port")
	duration := fs.Duration("duration", 8*time.Second, "how long to run")
	rate := fs.Uint64("rate", stream.DefaultRate, "download: bits per second")
	bulk := fs.Bool("bulk", false, "download: unpaced")
	size := fs.Uint64("size", 0, "download: bytes (0: until the end); reqresp: bytes per response (0: 64 KiB)")
	interval := fs.Duration("interval", 50*time.Millisecond, "reqresp: time between requests")
	timeout := fs.Duration("timeout", 10*time.Second, "reqresp: the longest a response may take")
	tcp := fs.Bool("tcp", false, "plain TCP instead of MPTCP")
	_ = fs.Parse(args)
	c, mptcp, err := dial(*local, *remote, *tcp)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	fmt.Fprintf(os.Stderr, "%s %s -> %s (mptcp %v)\n", kind, c.LocalAddr(), c.RemoteAddr(), mptcp)
	var r stream.DownloadResult
	if kind == "download" {
		r = stream.Download(ctx, c, stream.DownloadOptions{Rate: *rate, Bulk: *bulk, Size: *size})
	} else {
		r = stream.ReqResp(ctx, c, stream.ReqRespOptions{Size: int(*size), Interval: *interval, Timeout: *timeout})
	}
	out := struct {
		stream.DownloadResult
		MaxGapMS float64 `json:"max_gap_ms"`
		Mbps     float64 `json:"goodput_mbps"`
		Local    string  `json:"local"`
		MPTCP    bool    `json:"mptcp"`
	}{r, r.MaxGapMS(), r.Goodput(0) / 1e6, c.LocalAddr().String(), mptcp}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		return err
	}
	if r.Err != "" {
		return fmt.Errorf("%s failed: %s", kind, r.Err)
	}
	return nil
}

// dial connects to remote, from local if set, over MPTCP unless tcp, and
// says whether the connection is MPTCP.
func dial(local, remote string, tcp bool) (net.Conn, bool, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	d.SetMultipathTCP(!tcp)
	if local != "" {
		ip := net.ParseIP(local)
		if ip == nil {
			return nil, false, fmt.Errorf("invalid -local %q", local)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	c, err := d.Dial("tcp", remote)
	if err != nil {
		return nil, false, err
	}
	mptcp, _ := c.(*net.TCPConn).MultipathTCP()
	return c, mptcp, nil
}
