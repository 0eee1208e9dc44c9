// Command hearth runs a Hearth node: chat communities (Together's API),
// watch-together rooms (OpenTogetherTube's API) and live streams (Owncast's
// API) in one binary.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/hearth-community/hearth/internal/cli"
)

func main() {
	var c cli.CLI
	parser, err := kong.New(&c, kong.Name("hearth"),
		kong.Description("Hearth: a self-hosted place for a community: chat, voice, watch-together and live streams."),
		kong.UsageOnError(), kong.Vars{"version": cli.Version})
	if err != nil {
		fmt.Fprintln(os.Stderr, "hearth:", err)
		os.Exit(2)
	}
	kctx, err := parser.Parse(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "hearth:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kctx.BindTo(ctx, (*context.Context)(nil))
	if err := kctx.Run(&c.Config); err != nil {
		fmt.Fprintln(os.Stderr, "hearth:", err)
		stop()
		os.Exit(1)
	}
}
