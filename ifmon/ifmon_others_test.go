//go:build !linux

package ifmon

import (
	"errors"
	"os"
	"testing"
)

func TestUnsupported(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("New = %v, want an error matching os.ErrNotExist", err)
	}
}
