module github.com/hopwire/hopwire

go 1.26

require (
	github.com/fxamacker/cbor/v2 v2.10.0
	github.com/klauspost/compress v1.18.2
	go.uber.org/goleak v1.3.0
)

require github.com/x448/float16 v0.8.4 // indirect

require (
	github.com/HdrHistogram/hdrhistogram-go v1.1.2
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/panjf2000/ants/v2 v2.11.3 // indirect
	github.com/panjf2000/gnet/v2 v2.9.4
	github.com/spf13/cobra v1.8.1
	github.com/spf13/pflag v1.0.5 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	go.uber.org/zap v1.27.0 // indirect
	golang.org/x/sync v0.11.0 // indirect
	golang.org/x/sys v0.30.0
	gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
)
