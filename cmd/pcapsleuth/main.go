// Command pcapsleuth turns a packet capture into an incident diagnosis.
//
//	pcapsleuth analyze dump.pcap -o report.html
//
// See README.md for everything else.
package main

import (
	"os"

	"github.com/pcapsleuth/pcapsleuth/cmd/root"
)

func main() {
	os.Exit(root.Main(os.Args[1:], root.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}
