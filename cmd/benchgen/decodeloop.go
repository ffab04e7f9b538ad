package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// decodeLoop times the bare decode loop over a capture: pcapgo's
// reader and a DecodingLayerParser (Ethernet, IPv4, TCP), nothing else. It
// returns the seconds taken and the TCP segments decoded.
func decodeLoop(path string) (float64, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	start := time.Now()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	var (
		eth layers.Ethernet
		ip4 layers.IPv4
		tcp layers.TCP
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &tcp)
	parser.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 4)
	var segments int64
	for {
		data, _, err := r.ZeroCopyReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", path, err)
		}
		if parser.DecodeLayers(data, &decoded) == nil && len(decoded) == 3 {
			segments++
		}
	}
	return time.Since(start).Seconds(), segments, nil
}
