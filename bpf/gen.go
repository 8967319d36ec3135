//go:build linux

package bpf

// The generated probe_bpfel.go / probe_bpfeb.go and their .o files are
// committed, so building needs no clang. To regenerate (clang, llvm-strip
// and libbpf-dev headers needed):
//
//	go generate ./bpf/
//
//go:generate go tool bpf2go -tags linux -type key -type metrics -type event -type seed probe probe.c -- -I./include -O2 -g -Wall
