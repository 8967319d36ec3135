package main

import (
	"context"
	"log/slog"

	"github.com/mptcp-pm/mptcp-pm/internal/sdnotify"
)

// notifySystemd tells systemd (Type=notify, $NOTIFY_SOCKET) READY=1 once
// ready is closed, and STOPPING=1 once ctx ends after that (a stop
// signal, or the daemon failing). The returned function waits for the
// last message to be sent; call it before exiting. Without
// $NOTIFY_SOCKET nothing is sent.
func notifySystemd(ctx context.Context, log *slog.Logger, ready <-chan struct{}) (wait func()) {
	n := sdnotify.FromEnv()
	done := make(chan struct{})
	if !n.Enabled() {
		close(done)
		return func() {}
	}
	send := func(state string) {
		if err := n.Notify(state); err != nil {
			log.Warn("cannot notify systemd", "state", state, "err", err)
		}
	}
	go func() {
		defer close(done)
		select {
		case <-ready:
			send(sdnotify.Ready)
		case <-ctx.Done():
			return
		}
		<-ctx.Done()
		send(sdnotify.Stopping)
	}()
	return func() { <-done }
}
