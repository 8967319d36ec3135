// Package control is the daemon's control protocol and its client: the
// wire format (one JSON Request per line, one Reply back), the status the
// daemon serves (Status and its parts), the decision stream (Decision,
// OpenDecisions), and Query and Ask, which the command line and the tests
// use without importing package daemon.
//
// Out of scope: serving the socket (package daemon does, with its
// permissions and limits) and printing a status.
package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The control socket speaks one JSON object per line each way: a request
// {"query": "status"} (with "brief": true, the connections are counted,
// not listed), {"query": "reload"} or {"query": "explain", "explain":
// {...}}, and a Reply; {"query": "decisions"} is answered with a Reply,
// then a stream of Decisions (decision.go).

// Request is one control request.
type Request struct {
	Query   string          `json:"query"`
	Brief   bool            `json:"brief,omitempty"`
	Explain *ExplainRequest `json:"explain,omitempty"` // with QueryExplain
	// NetNS is the inode number of the network namespace the client
	// means (0: any). A daemon that manages another one refuses with
	// ErrOtherNetNS: control sockets are paths, which every namespace
	// shares.
	NetNS uint64 `json:"netns_inode,omitempty"`
}

// Reply is the answer to one Request.
type Reply struct {
	Status      *Status      `json:"status,omitempty"`
	Explanation *Explanation `json:"explanation,omitempty"`
	Error       string       `json:"error,omitempty"`
	// NetNS is, in a refusal for another namespace, the inode number of
	// the one the daemon manages.
	NetNS uint64 `json:"netns_inode,omitempty"`
}

// ErrOtherNetNS is the Error of a Reply from a daemon that manages another
// network namespace than the Request's.
const ErrOtherNetNS = "this daemon manages another network namespace"

// Queries and who may send them: read-only ones to root and the control
// group, changes to root only.
const (
	QueryStatus  = "status"
	QueryReload  = "reload"
	QueryExplain = "explain" // read-only
)

// MaxRequest is the longest request line a daemon reads, and Timeout how
// long it waits for it and for its answer.
const (
	MaxRequest = 4096
	Timeout    = 2 * time.Second
)

// requestKeys are the keys of a Request, exactly as they are spelled.
var requestKeys = []string{"query", "brief", "explain", "netns_inode"}

// DecodeRequest decodes one request strictly: encoding/json matches keys
// without regard to case, so {"query":"status","Query":"reload"} would be
// a reload. Here keys must be spelled exactly, each may appear once, and
// an unknown key is an error naming it.
func DecodeRequest(line []byte) (Request, error) {
	var req Request
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil {
		return req, err
	} else if t != json.Delim('{') {
		return req, fmt.Errorf("want a JSON object, got %v", t)
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return req, err
		}
		key, _ := t.(string) // object keys are strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return req, err
		}
		switch {
		case !slices.Contains(requestKeys, key):
			return req, fmt.Errorf("unknown key %q (want %s)", key, keyList(requestKeys))
		case seen[key]:
			return req, fmt.Errorf("key %q given twice", key)
		}
		seen[key] = true
		var dst any = &req.Query
		switch key {
		case "brief":
			dst = &req.Brief
		case "explain":
			dst = &req.Explain
		case "netns_inode":
			dst = &req.NetNS
		}
		if err := unmarshalStrict(raw, dst); err != nil {
			return req, fmt.Errorf("key %q: %w", key, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return req, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, errors.New("trailing data after the JSON object")
	}
	return req, nil
}

// keyList writes keys as `"a", "b" or "c"`.
func keyList(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = strconv.Quote(k)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// unmarshalStrict decodes raw into dst, refusing unknown keys (an
// ExplainRequest's; its keys are lower case, and a misspelt one is an
// error rather than a condition quietly left out).
func unmarshalStrict(raw []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}
