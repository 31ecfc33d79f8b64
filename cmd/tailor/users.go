package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"tailor/internal/auth"
	"tailor/internal/server"
)

const usersUsage = `usage:
  tailor users add    [--data-dir DIR] [--role admin|editor|viewer] [--password PW] EMAIL
  tailor users list   [--data-dir DIR]
  tailor users remove [--data-dir DIR] EMAIL

They open the data directory directly, so the server must be stopped; while
it runs, use the dashboard or POST /api/users. Without --password, add asks
for the password (without echo on a terminal) or reads its first line from
standard input.`

// errServerRunning is what users says when the server holds the data
// directory's lock.
var errServerRunning = errors.New("tailor is running on this data dir; use the dashboard or POST /api/users")

func runUsers(ctx context.Context, args []string) error {
	return usersCmd(args, os.Stdin, os.Stdout, os.Stderr)
}

// isTerminal says whether r is a terminal to prompt on; tests replace it.
var isTerminal = func(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func usersCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: tailor users needs add, list or remove\n%s", errUsage, usersUsage)
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("users "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, usersUsage); fs.PrintDefaults() }
	dataDir := envOr("TAILOR_DATA_DIR", server.Defaults().DataDir)
	fs.StringVar(&dataDir, "data-dir", dataDir, "data directory of the server [TAILOR_DATA_DIR]")
	fs.StringVar(&dataDir, "data", dataDir, "same as --data-dir")
	role := fs.String("role", string(auth.Viewer), "role of the new account: admin, editor or viewer (add)")
	password := fs.String("password", "", "password of the new account, at least 10 characters (add; default: asked)")
	// Flags may come after EMAIL too (tailor users add ann@x.com --role editor).
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	wantArgs := map[string]int{"add": 1, "list": 0, "remove": 1}
	n, ok := wantArgs[sub]
	if !ok {
		return fmt.Errorf("%w: unknown users command %q\n%s", errUsage, sub, usersUsage)
	}
	if len(pos) != n {
		return fmt.Errorf("%w: users %s takes %d argument(s), got %d\n%s", errUsage, sub, n, len(pos), usersUsage)
	}

	// Check what can be checked before opening the store (which waits on
	// nobody but fails while the server runs).
	var r auth.Role
	if sub == "add" {
		var err error
		if r, err = auth.ParseRole(*role); err != nil {
			return fmt.Errorf("%w: --role: %v", errUsage, err)
		}
		if _, err := auth.NormalizeEmail(pos[0]); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	accounts, closeDB, err := openAccounts(dataDir)
	if err != nil {
		return err
	}
	defer closeDB()

	switch sub {
	case "list":
		us, err := accounts.Users()
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "EMAIL\tROLE\tCREATED")
		for _, u := range us {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Email, u.Role, u.Created.Format(time.RFC3339))
		}
		return tw.Flush()
	case "add":
		pw := *password
		if pw == "" {
			if pw, err = readPassword(stdin, stderr, pos[0]); err != nil {
				return err
			}
		}
		u, err := accounts.CreateUser(pos[0], pw, r)
		var in *auth.InputError
		switch {
		case errors.As(err, &in):
			return fmt.Errorf("%w: %v", errUsage, in)
		case errors.Is(err, auth.ErrUserExists):
			return fmt.Errorf("an account for %s exists; remove it first to replace it", pos[0])
		case err != nil:
			return err
		}
		fmt.Fprintf(stdout, "tailor: account %s (%s) added\n", u.Email, u.Role)
	case "remove":
		switch err := accounts.DeleteUser(pos[0]); {
		case errors.Is(err, auth.ErrNoUser):
			return fmt.Errorf("no account for %s (tailor users list shows them)", pos[0])
		case errors.Is(err, auth.ErrLastAdmin):
			return fmt.Errorf("%s is the only admin account; add another admin first", pos[0])
		case err != nil:
			return err
		}
		fmt.Fprintf(stdout, "tailor: account %s removed, and its sessions ended\n", pos[0])
	}
	return nil
}

// openAccounts opens the accounts of a stopped server's data directory.
func openAccounts(dir string) (*auth.Service, func(), error) {
	if err := checkDataDir(dir); err != nil {
		return nil, nil, err
	}
	db, err := server.OpenDB(dir, 8<<20)
	if err != nil {
		if isLockHeld(err) {
			return nil, nil, errServerRunning
		}
		return nil, nil, err
	}
	a, err := auth.Open(db, auth.Options{})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return a, func() { db.Close() }, nil
}

// isLockHeld reports whether err is Pebble failing to lock the directory:
// another process (EAGAIN, or EACCES on some systems) or this one holds it.
func isLockHeld(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) ||
		strings.Contains(err.Error(), "lock held by current process")
}

// readPassword asks for a password twice without echo on a terminal, or
// reads the first line of a pipe.
func readPassword(stdin io.Reader, stderr io.Writer, email string) (string, error) {
	if isTerminal(stdin) {
		fd := int(stdin.(*os.File).Fd())
		fmt.Fprintf(stderr, "Password for %s: ", email)
		a, err := term.ReadPassword(fd)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(stderr, "Again: ")
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(a) != string(b) {
			return "", fmt.Errorf("%w: the two passwords differ", errUsage)
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", fmt.Errorf("%w: no password: pass --password or write it to standard input", errUsage)
	}
	return pw, nil
}
