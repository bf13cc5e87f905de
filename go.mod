module github.com/minidocker/minidocker

go 1.22

require (
	github.com/fatih/color v1.18.0
	github.com/spf13/pflag v1.0.5
	golang.org/x/sys v0.26.0
)

require (
	github.com/mattn/go-colorable v0.1.13 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
)
