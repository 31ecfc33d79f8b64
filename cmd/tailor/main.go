// Command tailor runs the Tailor personalization platform and its tools.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// errUsage marks an error caused by how the command was called; main exits 2.
var errUsage = errors.New("usage")

const usage = `tailor: self-hosted real-time personalization

usage:
  tailor serve   [flags]   run the server (ingest, profiles, admin API)
  tailor demo    [flags]   write the deterministic demo store as files
  tailor import  [flags]   load customers, events or products into a running server
  tailor bench   ingest    drive a running server with demo-shaped load
  tailor bench   pebble    storage baseline: the same events as raw synced Pebble batches
  tailor bench   segment   segment rule evaluation over the demo store vs a naive baseline
  tailor eval    NAME      offline evaluation of a model (run 'tailor eval -h')
  tailor verify  [flags]   check stored profiles equal a clean replay of the log
  tailor migrate [flags]   bring a stopped server's data dir made by an older version up to date
  tailor users   add|list|remove   dashboard accounts of a stopped server's data dir

Run 'tailor COMMAND -h' for the flags of a command.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmds := map[string]func(context.Context, []string) error{
		"serve":   runServe,
		"demo":    runDemo,
		"import":  runImport,
		"bench":   runBench,
		"verify":  runVerify,
		"migrate": runMigrate,
		"users":   runUsers,
		"eval":    runEval,
	}
	name, args := os.Args[1], os.Args[2:]
	if name == "-h" || name == "--help" || name == "help" {
		fmt.Print(usage)
		return
	}
	run, ok := cmds[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "tailor: unknown command %q\n\n%s", name, usage)
		os.Exit(2)
	}
	switch name {
	case "serve", "demo", "import":
		// The commands that fill Pebble's memtables for long: their
		// memory in huge pages (see hugepages_linux.go).
		execWithHugePages()
	}
	if err := run(ctx, args); err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprintf(os.Stderr, "tailor %s: %v\n", name, err)
			os.Exit(2)
		}
		slog.Error("tailor "+name+" failed", "err", err)
		fmt.Fprintf(os.Stderr, "tailor %s: %v\n", name, err)
		os.Exit(1)
	}
}
