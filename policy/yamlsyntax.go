package policy

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v4"
)

// syntax records a YAML syntax error at the place the YAML library names
// (its *yaml.LoadError carries the line and column where it stopped and,
// for an unclosed quote or bracket, where that began).
func (p *parser) syntax(err error) {
	var le *yaml.LoadError
	if !errors.As(err, &le) {
		p.errs = append(p.errs, &Error{File: p.file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")})
		return
	}
	e := &Error{File: p.file, Line: le.Mark.Line, Column: le.Mark.Column, Msg: le.Message}
	atEnd := le.Mark.Index >= len(bytes.TrimRight(p.data, " \t\r\n"))
	ctx := le.ContextMark
	switch {
	case le.Stage == yaml.ReaderStage:
		// The reader stops on bytes that are not text without a place.
		e.Line, e.Column = firstNonText(p.data)
		e.Msg += " (not a text file?)"
	case strings.Contains(le.ContextMsg, "quoted scalar") && atEnd && ctx.Line > 0:
		e.Line, e.Column = ctx.Line, ctx.Column
		e.Msg = "quoted string never closed (" + le.Message + ")"
	case strings.Contains(le.ContextMsg, "simple key") && ctx.Line > 0:
		// A plain word with no ": " after it: the parser gives up on the
		// next line, the mistake is the word.
		e.Line, e.Column = ctx.Line, ctx.Column
		e.Msg += ` (a key is followed by ": ", as in "mode: handover")`
	case strings.HasPrefix(le.Message, "exceeded max depth"):
		// Nesting past the library's limit: the place is where it is
		// passed, and no bracket is missing.
	case strings.Contains(le.ContextMsg, "flow ") && ctx.Line > 0:
		open := "{"
		if strings.Contains(le.ContextMsg, "sequence") {
			open = "["
		}
		if atEnd {
			e.Line, e.Column = ctx.Line, ctx.Column
			e.Msg = fmt.Sprintf("%s never closed (%s before the end of the file)", open, le.Message)
		} else {
			e.Msg += fmt.Sprintf(" (the %s at line %d column %d is not closed, or a comma is missing)", open, ctx.Line, ctx.Column)
		}
	case le.Mark.Index < len(p.data) && p.data[le.Mark.Index] == '\t' && !strings.Contains(le.Message, "tab"):
		e.Msg += " (YAML indentation must use spaces, not tabs)"
	case atEnd && ctx.Line > 0:
		// Past the last line: where the unfinished part began.
		e.Line, e.Column = ctx.Line, ctx.Column
		e.Msg += " (" + le.ContextMsg + ")"
	}
	p.errs = append(p.errs, e)
}

// firstNonText is the line and column (in characters, 1-based) of the
// first byte of data that is not UTF-8 text: an invalid sequence or a
// control character other than tab, line feed and carriage return. It
// returns 0, 0 if there is none.
func firstNonText(data []byte) (line, col int) {
	line, col = 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1, r < 0x20 && r != '\t' && r != '\n' && r != '\r':
			return line, col
		case r == '\n':
			line, col = line+1, 1
		default:
			col++
		}
		i += size
	}
	return 0, 0
}
