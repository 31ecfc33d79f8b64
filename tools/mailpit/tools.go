//go:build tools

// Package mailpit pins Mailpit, the SMTP server with an HTTP API that the
// e2e delivery tests send real email to. The test command builds it from
// this module (go build github.com/axllent/mailpit) into a temporary
// directory; no binary is checked in.
package mailpit

import _ "github.com/axllent/mailpit"
