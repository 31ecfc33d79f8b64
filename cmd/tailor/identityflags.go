package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"

	"tailor/internal/identity"
)

// identityFlags registers the identity rule flags on fs; the returned
// function applies them to r after fs.Parse. serve and verify share them:
// verify must replay with the rules the server ran with.
func identityFlags(fs *flag.FlagSet, r *identity.Rules) func() error {
	link := fs.String("identity-link", envOr("TAILOR_IDENTITY_LINK", "email,phone"),
		"identifier kinds that link profiles besides user_id and anonymous_id: email, phone, both or none [TAILOR_IDENTITY_LINK]")
	limits := fs.String("identity-limits", os.Getenv("TAILOR_IDENTITY_LIMITS"),
		"most identifiers of a kind one profile takes through implicit links, e.g. anonymous_id=100,email=5 (default user_id=1,anonymous_id=100,email=5,phone=5) [TAILOR_IDENTITY_LIMITS]")
	maxIDs := fs.Int("max-identities", envInt("TAILOR_MAX_IDENTITIES", r.MaxIdentities),
		"most identifiers one profile holds in all, aliases and merges included [TAILOR_MAX_IDENTITIES]")
	return func() error {
		if err := r.ParseLink(*link); err != nil {
			return fmt.Errorf("%w: --identity-link: %v", errUsage, err)
		}
		if err := r.ParseLimits(*limits); err != nil {
			return fmt.Errorf("%w: --identity-limits: %v", errUsage, err)
		}
		r.MaxIdentities = *maxIDs
		if err := r.Validate(); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		return nil
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
