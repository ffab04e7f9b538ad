// Command gencaptures writes pcapsleuth's generated test captures: small
// pcap/pcapng files for every capture format and edge case the decoder must
// handle, and one capture per incident scenario of testdata/scenarios
// (built from their "packets" sections with decode/capturetest).
//
// Usage, from the module root:
//
//	go run ./cmd/gencaptures -out testdata/captures
//
// or go generate ./cmd/gencaptures. The output is byte-identical from run to
// run; main_test.go checks that testdata/captures is up to date. Files it
// did not generate (the recorded real-*.pcap and demo.pcap) are left alone;
// generated.tsv lists the ones it owns.
package main

//go:generate go run . -out ../../testdata/captures

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("out", "testdata/captures", "directory to write the captures to")
	scen := flag.String("scenarios", "", "directory of scenario .txtar files (default: ../scenarios next to -out)")
	flag.Parse()
	if *scen == "" {
		*scen = filepath.Join(filepath.Dir(filepath.Clean(*out)), "scenarios")
	}
	files, err := generate(*scen)
	if err == nil {
		err = writeAll(*out, files)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gencaptures:", err)
		os.Exit(1)
	}
	fmt.Printf("gencaptures: wrote %d files to %s\n", len(files)+1, *out)
}
