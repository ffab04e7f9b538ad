module github.com/pcapsleuth/pcapsleuth

go 1.23

require (
	github.com/go-echarts/go-echarts/v2 v2.6.7 // indirect
	github.com/google/gopacket v1.1.19 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/spf13/cobra v1.10.2 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
)
