package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"tailor/internal/importer"
)

const importUsage = `usage: tailor import [flags] KIND FILE

Loads a file into a running Tailor server over its HTTP API.

KIND:
  customers   CSV with a header row and a user_id column; each row becomes an
              identify call, the other columns traits
  events      NDJSON, one Segment message per line
  products    CSV (id,name,category,price,currency,stock,url,image_url, other
              columns become attributes) or NDJSON of catalog products

FILE may be "-" for stdin and may be gzipped (.gz). Re-running an import is
safe within the server's --dedupe-window (7 days by default): rows already
imported are recognised and not applied twice. Products can be re-imported
at any time (they are replaced by id).

flags:
`

// runImport parses the flags of "tailor import"; the work is importer.Run.
func runImport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), importUsage)
		fs.PrintDefaults()
	}
	o := importer.Options{Stdout: os.Stdout, Stderr: os.Stderr}
	fs.StringVar(&o.Target, "target", "http://127.0.0.1:8080", "base URL of the running server")
	fs.StringVar(&o.WriteKey, "write-key", os.Getenv("TAILOR_WRITE_KEY"), "write key, for customers and events [TAILOR_WRITE_KEY]")
	fs.StringVar(&o.AdminToken, "admin-token", os.Getenv("TAILOR_ADMIN_TOKEN"), "admin token, for products [TAILOR_ADMIN_TOKEN]")
	fs.IntVar(&o.BatchSize, "batch", 500, "rows per request")
	fs.StringVar(&o.Format, "format", "", "csv or ndjson (default: from the file extension)")

	// Flags may come before, between or after KIND and FILE.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if len(pos) != 2 {
		fs.Usage()
		return fmt.Errorf("%w: want KIND and FILE, got %d arguments", errUsage, len(pos))
	}
	o.Kind, o.Path = pos[0], pos[1]
	err := importer.Run(ctx, o)
	if oe := (*importer.OptionsError)(nil); errors.As(err, &oe) {
		return fmt.Errorf("%w: %v", errUsage, oe)
	}
	return err
}
