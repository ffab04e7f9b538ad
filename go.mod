module github.com/pcapsleuth/pcapsleuth

go 1.25

require (
	github.com/go-echarts/go-echarts/v2 v2.6.7
	github.com/google/gopacket v1.1.19
	github.com/klauspost/compress v1.20.3
	github.com/spf13/cobra v1.10.2
	github.com/spf13/pflag v1.0.9
	golang.org/x/net v0.0.0-20190620200207-3b0461eec859
)

require (
	github.com/cpuguy83/go-md2man/v2 v2.0.6 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/kr/text v0.2.0 // indirect
	github.com/russross/blackfriday/v2 v2.1.0 // indirect
	go.yaml.in/yaml/v3 v3.0.4 // indirect
	golang.org/x/sys v0.0.0-20190412213103-97732733099d // indirect
)
