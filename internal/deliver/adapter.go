package deliver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Consent says whether a profile may get a message; package consent's
// Checker satisfies it.
type Consent interface {
	Allowed(profile, channel, purpose string) (ok bool, reason string)
}

// RenderRequest asks for one message rendered for one profile: the fields
// of package message's RenderRequest (the wiring copies one into the other,
// so that this package does not depend on the template engine).
type RenderRequest struct {
	Template string
	Version  int
	Profile  string
	Data     map[string]any
	SendKey  string // the outbox key: coupon claims and tracking tokens derive from it
	BaseURL  string // public URL of this server for links
	// Journey and Step go into tracking tokens (empty for API sends).
	Journey, Step string
}

// Rendered is a rendered message: the fields of package message's Rendered
// that adapters use.
type Rendered struct {
	Channel, To         string
	Subject, HTML, Text string
	Title, Body, URL    string
	Headers             map[string]string
	JSON                []byte
}

// Renderer renders a template for a profile at send time.
type Renderer interface {
	Render(ctx context.Context, req RenderRequest) (Rendered, error)
}

// Envelope is what an adapter sends: the rendered message with the send's
// identity.
type Envelope struct {
	Rendered
	Key     string // the outbox key, sent to the provider as the idempotency key
	Profile string
}

// MessageID is the RFC 5322 Message-ID of a send: the same for every
// attempt, so a provider (or a person) can tell a resend from a new message.
func (e Envelope) MessageID(domain string) string {
	return "<" + IdempotencyKey(e.Key) + "@" + domain + ">"
}

// IdempotencyKey is the key as sent to providers: a fixed-length hex digest,
// since provider headers limit length and characters.
func IdempotencyKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:16])
}

// Receipt is a provider's acceptance of a send.
type Receipt struct {
	ProviderID string // the provider's id for the message, if it gives one
}

// Adapter sends messages of one channel. Adding a channel is adding one
// file with an Adapter.
type Adapter interface {
	Send(ctx context.Context, env Envelope) (Receipt, error)
}

// SendError is an adapter's failure, classified: a temporary one is retried
// with backoff, a permanent one fails the message, and a bounce (the
// recipient does not exist or refuses) is recorded as Message Bounced.
type SendError struct {
	Temporary bool
	Bounce    bool
	Err       error
}

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// Temporary wraps err as a failure worth retrying.
func Temporary(err error) error { return &SendError{Temporary: true, Err: err} }

// Permanent wraps err as a failure not worth retrying.
func Permanent(err error) error { return &SendError{Err: err} }

// Bounced wraps err as a hard bounce.
func Bounced(err error) error { return &SendError{Bounce: true, Err: err} }

// isTemporary: an unclassified error (a dropped connection, a timeout) is
// temporary, since retrying it with the same key is safe.
func isTemporary(err error) bool {
	var se *SendError
	if errors.As(err, &se) {
		return se.Temporary
	}
	return true
}

func isBounce(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Bounce
}

// httpStatusError classifies an HTTP provider's answer: 429 and 5xx are
// temporary, other 4xx permanent.
func httpStatusError(provider string, status int, body []byte) error {
	err := fmt.Errorf("%s answered %d: %.200s", provider, status, body)
	if status == 429 || status >= 500 {
		return Temporary(err)
	}
	return Permanent(err)
}
