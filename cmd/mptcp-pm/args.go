package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// usageError is bad input: the command's usage is not printed again, only
// the message, and the exit status is 1.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// match returns the first keyword that arg is a prefix of, in the order
// given, as ip(8)'s matches() does: "del" is "delete", "sh" is "show".
func match(arg string, keywords ...string) (string, bool) {
	if arg == "" {
		return "", false
	}
	for _, k := range keywords {
		if strings.HasPrefix(k, arg) {
			return k, true
		}
	}
	return "", false
}

// scanner walks the words of one command.
type scanner struct {
	cmd  string // the command's name for messages, e.g. "endpoint add"
	args []string
}

func (s *scanner) more() bool { return len(s.args) > 0 }

func (s *scanner) next() string {
	a := s.args[0]
	s.args = s.args[1:]
	return a
}

// value returns the word after keyword kw.
func (s *scanner) value(kw string) (string, error) {
	if !s.more() {
		return "", usagef("%s: missing value after %q", s.cmd, kw)
	}
	return s.next(), nil
}

func (s *scanner) unknown(arg string, want ...string) error {
	return usagef("%s: unknown argument %q (expected %s)", s.cmd, arg, strings.Join(want, ", "))
}

func (s *scanner) addr(kw string) (netip.Addr, error) {
	v, err := s.value(kw)
	if err != nil {
		return netip.Addr{}, err
	}
	return parseAddr(s.cmd, kw, v)
}

func parseAddr(cmd, what, v string) (netip.Addr, error) {
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, usagef("%s: invalid %s address %q", cmd, what, v)
	}
	return a, nil
}

func (s *scanner) uint(kw string, lo, hi uint64) (uint64, error) {
	v, err := s.value(kw)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, usagef("%s: invalid %s %q: want a number from %d to %d", s.cmd, kw, v, lo, hi)
	}
	return n, nil
}

func (s *scanner) id() (uint8, error) {
	n, err := s.uint("id", 0, 255)
	return uint8(n), err
}

func (s *scanner) port() (uint16, error) {
	n, err := s.uint("port", 1, 65535)
	return uint16(n), err
}

// token reads a connection token: hexadecimal as `ip mptcp monitor` prints
// it (eight digits), with or without 0x.
func (s *scanner) token() (uint32, error) {
	v, err := s.value("token")
	if err != nil {
		return 0, err
	}
	return parseToken(s.cmd, v)
}

// onlyToken reads what is left of the arguments as an optional
// "token TOKEN" (the last one given counts), and nothing else.
func (s *scanner) onlyToken() (tok uint32, have bool, err error) {
	for s.more() {
		a := s.next()
		if _, ok := match(a, "token"); !ok {
			return 0, false, s.unknown(a, "token")
		}
		if tok, err = s.token(); err != nil {
			return 0, false, err
		}
		have = true
	}
	return tok, have, nil
}

func parseToken(cmd, v string) (uint32, error) {
	h := strings.TrimPrefix(strings.TrimPrefix(v, "0x"), "0X")
	n, err := strconv.ParseUint(h, 16, 32)
	if err != nil || h == "" || len(h) > 8 {
		return 0, usagef("%s: invalid token %q: want up to 8 hexadecimal digits, as `mptcp-pm monitor` prints it", cmd, v)
	}
	return uint32(n), nil
}

// required names the keywords a command still misses.
func required(cmd string, missing ...string) error {
	if len(missing) == 0 {
		return nil
	}
	return usagef("%s: missing %s", cmd, strings.Join(missing, ", "))
}
