package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Error is one mistake in a file. An Error is a value: it is never changed
// after it is returned and may be shared between goroutines.
type Error struct {
	File         string // the file name given to the parser (a path)
	Line, Column int    // 1-based; 0 when unknown
	// Field is the dotted path of the field the mistake is in, e.g.
	// "handover.hold_down" or "match.ports[1]"; "" for the file as a whole.
	Field string
	Msg   string
	// Err is the underlying error, if any (a failed read of the policy
	// directory), for errors.Is; nil for mistakes in the text.
	Err error
}

// Error formats e as "file:line:column: field: message", leaving out the
// parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Column > 0 {
				fmt.Fprintf(&b, ":%d", e.Column)
			}
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// position formats the place of e as "file:line:column".
func position(e *Error) string { return fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column) }

// ErrNotRegular is the error, under an *Error naming the file, for a
// configuration or policy file that is not a regular file (a FIFO, a
// device, a socket, a directory). Such a file is never read: opening or
// reading a FIFO would wait for a writer.
var ErrNotRegular = errors.New("not a regular file")

// notRegular is the error for a file of type typ that is not regular.
func notRegular(file string, typ fs.FileMode) *Error {
	what := "of type " + typ.Type().String()
	switch {
	case typ&fs.ModeNamedPipe != 0:
		what = "a FIFO"
	case typ&fs.ModeSocket != 0:
		what = "a socket"
	case typ&fs.ModeDevice != 0:
		what = "a device"
	case typ.IsDir():
		what = "a directory"
	}
	return &Error{File: file, Err: ErrNotRegular, Msg: fmt.Sprintf("not a regular file (%s): not read", what)}
}

// join is errors.Join that returns a lone error as itself.
func join(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}
