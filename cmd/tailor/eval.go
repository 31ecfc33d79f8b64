package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// subcommand is one `tailor eval X` or `tailor bench X` registered from its
// own file (in an init func), so that adding one touches no shared switch.
type subcommand struct {
	usage string // one line: "tailor eval clv PATH   fit ... and print ..."
	run   func(context.Context, []string) error
}

// evalCommands are the offline evaluations, by name.
var evalCommands = map[string]subcommand{}

// extraBench are the bench sub-commands registered from their own files.
var extraBench = map[string]subcommand{}

func usageLines(m map[string]subcommand) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString("  " + m[n].usage + "\n")
	}
	return b.String()
}

// runEval implements `tailor eval`: offline evaluations of the models
// against public or exported data sets.
func runEval(ctx context.Context, args []string) error {
	help := "usage:\n" + usageLines(evalCommands) + "\nRun 'tailor eval NAME -h' for the flags."
	if len(args) == 0 {
		return fmt.Errorf("%w: missing evaluation\n%s", errUsage, help)
	}
	if c, ok := evalCommands[args[0]]; ok {
		return c.run(ctx, args[1:])
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Println(help)
		return nil
	}
	return fmt.Errorf("%w: unknown evaluation %q\n%s", errUsage, args[0], help)
}
