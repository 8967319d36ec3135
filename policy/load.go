package policy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"go.yaml.in/yaml/v4"
)

// maxFileSize bounds what is read of one file; policy files are a few
// hundred bytes.
const maxFileSize = 1 << 20

// Load reads the configuration file at path and every *.yaml / *.yml file
// of its PolicyDir, in file name order, and returns the Set. Files whose
// name starts with "." and directories are skipped; so are files that are
// not regular (a FIFO, a device, a socket), which are never opened for
// reading and are listed in Set.Warnings. Symbolic links are followed. A
// relative PolicyDir is taken from the configuration file's directory, and
// the returned Config holds the resolved path. A missing PolicyDir is an
// error naming it; an empty one is fine. Policy names must be unique
// across files. A configuration file that is not regular is an error
// (ErrNotRegular).
//
// Load returns every mistake found, not only the first (errors.Join), each
// an *Error naming file:line:column, or a *fs.PathError for a file that
// cannot be read; on error the Set is nil.
func Load(path string) (*Set, error) {
	return load(path, func(*Config) bool { return true }, false)
}

// LoadFor is Load when the caller needs the policies only for some
// configurations: it reads the configuration file once and, if
// wantPolicies says so for it, the policy directory as Load does.
// Otherwise the Set has no policies and the Config is as LoadConfig
// returns it (PolicyDir as written). A configuration file with mistakes
// is reported alone, as LoadConfig does.
func LoadFor(path string, wantPolicies func(*Config) bool) (*Set, error) {
	return load(path, wantPolicies, true)
}

// load reads path and, when wantPolicies says so, its policy directory;
// with configFirst, the configuration's mistakes stop it before the
// policies are read.
func load(path string, wantPolicies func(*Config) bool, configFirst bool) (*Set, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	cfg, dirNode, errs := parseConfig(data, path)
	if cfg == nil {
		return nil, join(errs)
	}
	if (configFirst && len(errs) > 0) || !wantPolicies(cfg) {
		if len(errs) > 0 {
			return nil, join(errs)
		}
		return &Set{Config: cfg}, nil
	}
	dir := cfg.PolicyDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(filepath.Dir(path), dir)
	}
	cfg.PolicyDir = dir
	entries, err := os.ReadDir(dir)
	if err != nil {
		e := &Error{File: path, Field: "policy_dir", Err: err,
			Msg: fmt.Sprintf("policy directory %s: %s", dir, reason(err))}
		if dirNode != nil {
			e.Line, e.Column = dirNode.Line, dirNode.Column
		} else {
			e.Msg += " (policy_dir defaults to " + defaultPolicyDir + " next to the configuration file)"
		}
		return nil, join(append(errs, e))
	}
	var pols []*Policy
	var warnings []error
	names := newNameIndex()
	for _, ent := range entries {
		n := ent.Name()
		if strings.HasPrefix(n, ".") || !isYAMLName(n) {
			continue
		}
		file := filepath.Join(dir, n)
		typ, err := entryType(ent, file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch {
		case typ.IsDir():
			continue
		case !typ.IsRegular():
			warnings = append(warnings, notRegular(file, typ))
			continue
		}
		data, err := readFile(file)
		if errors.Is(err, ErrNotRegular) { // swapped since ReadDir
			warnings = append(warnings, err)
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pol, nameNode, perrs := parsePolicy(data, file)
		errs = append(errs, perrs...)
		if nameNode != nil && pol != nil {
			if e := names.add(pol.Name, file, nameNode); e != nil {
				errs = append(errs, e)
			}
		}
		if len(perrs) == 0 {
			pols = append(pols, pol)
		}
	}
	if len(errs) > 0 {
		return nil, join(errs)
	}
	return &Set{Config: cfg, Policies: pols, Warnings: warnings}, nil
}

// LoadConfig reads the configuration file at path without its policy
// directory (endpoint mode has no use for policies). PolicyDir is kept as
// written. Errors are reported as by Load.
func LoadConfig(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	cfg, _, errs := parseConfig(data, path)
	if len(errs) > 0 {
		return nil, join(errs)
	}
	return cfg, nil
}

// entryType is the type of the directory entry ent (at file), or of what
// it links to.
func entryType(ent fs.DirEntry, file string) (fs.FileMode, error) {
	if ent.Type()&fs.ModeSymlink == 0 {
		return ent.Type(), nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return 0, err
	}
	return fi.Mode().Type(), nil
}

// Check validates files without loading a policy directory: each path is
// a policy file if its top level has a name key, else a configuration
// file. Policy names must be unique across the policy files given. Check
// returns nil or every mistake found (errors.Join).
func Check(paths ...string) error {
	var errs []error
	names := newNameIndex()
	for _, file := range paths {
		data, err := readFile(file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch fileKind(data) {
		case configFile:
			_, _, cerrs := parseConfig(data, file)
			errs = append(errs, cerrs...)
			continue
		case otherFile:
			p := &parser{file: file, data: data}
			if root, _ := p.root(); root != nil {
				p.errorf(root, "", "want a mapping of fields (a policy has name, match, mode, ...; a configuration policy_dir, interfaces, default, ...), got %s", describe(root))
			}
			errs = append(errs, p.errs...)
			continue
		}
		pol, nameNode, perrs := parsePolicy(data, file)
		errs = append(errs, perrs...)
		if nameNode != nil && pol != nil {
			if e := names.add(pol.Name, file, nameNode); e != nil {
				errs = append(errs, e)
			}
		}
	}
	return join(errs)
}

// nameIndex finds policy names used twice.
type nameIndex map[string]*Error

func newNameIndex() nameIndex { return make(nameIndex) }

// add records that file names a policy name at node n, and returns an
// error naming both files if an earlier file used it.
func (x nameIndex) add(name, file string, n *yaml.Node) error {
	if name == "" {
		return nil
	}
	here := &Error{File: file, Line: n.Line, Column: n.Column}
	if first, ok := x[name]; ok {
		here.Field = "name"
		here.Msg = fmt.Sprintf("duplicate policy name %q (first in %s)", name, position(first))
		return here
	}
	x[name] = here
	return nil
}

func isYAMLName(n string) bool {
	return strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")
}

// Kinds of file, for Check.
const (
	configFile = iota // a mapping without name, or empty
	policyFile        // a mapping with a top-level name
	otherFile         // not a mapping, or not YAML
)

// fileKind tells a policy file from a configuration file.
func fileKind(data []byte) int {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return otherFile
	}
	if len(doc.Content) == 0 {
		return configFile
	}
	root := deref(doc.Content[0])
	switch {
	case isNull(root):
		return configFile
	case root.Kind != yaml.MappingNode:
		return otherFile
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "name" {
			return policyFile
		}
	}
	return configFile
}

// reason is the cause of a failed file operation without the path, which
// the message already names.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// readFile reads a regular file. It opens it with O_NONBLOCK, so that a
// FIFO (even one swapped in after a check of the name) cannot block the
// open, and checks the type of what it opened before reading.
func readFile(file string) ([]byte, error) {
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(file, fi.Mode())
	}
	return readAll(f, file)
}

func readAll(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > maxFileSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("file is larger than %d bytes", maxFileSize)}
	}
	return data, nil
}
