package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
)

// Query sends one request to the control socket at path.
func Query(ctx context.Context, path, query string) (*Reply, error) {
	return Ask(ctx, path, Request{Query: query})
}

// Ask sends req to the control socket at path.
func Ask(ctx context.Context, path string, req Request) (*Reply, error) {
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w (is the daemon running?)", path, err)
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(d)
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	var r Reply
	if err := json.NewDecoder(io.LimitReader(c, 64<<20)).Decode(&r); err != nil {
		return nil, fmt.Errorf("control socket %s: reply: %w", path, err)
	}
	if r.Error != "" {
		return &r, fmt.Errorf("daemon: %s", r.Error)
	}
	return &r, nil
}
