package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// SMS sends text messages through a Twilio-compatible Messages API: a form
// POST of To, From and Body to
// <BaseURL>/2010-04-01/Accounts/<AccountSID>/Messages.json with HTTP Basic
// auth (account SID, auth token), answered with the message's sid.
type SMS struct {
	BaseURL    string // e.g. the provider's API root; tests point it at a local server
	AccountSID string
	AuthToken  string
	From       string // sender number (E.164) or messaging service
	Client     *http.Client
}

// Send implements Adapter.
func (s *SMS) Send(ctx context.Context, env Envelope) (Receipt, error) {
	if env.To == "" {
		return Receipt{}, Permanent(errors.New("sms: the profile has no phone number"))
	}
	text := env.Body
	if text == "" {
		text = env.Text
	}
	form := url.Values{"To": {env.To}, "From": {s.From}, "Body": {text}}
	h := http.Header{}
	h.Set("Authorization", "Basic "+basic(s.AccountSID, s.AuthToken))
	h.Set(HeaderIdemKey, IdempotencyKey(env.Key))
	// Twilio's own name for the idempotency header.
	h.Set("I-Twilio-Idempotency-Token", IdempotencyKey(env.Key))
	u := strings.TrimRight(s.BaseURL, "/") + "/2010-04-01/Accounts/" + url.PathEscape(s.AccountSID) + "/Messages.json"
	b, err := post(ctx, s.Client, "sms", u, "application/x-www-form-urlencoded", []byte(form.Encode()), h)
	if err != nil {
		return Receipt{}, err
	}
	var ans struct {
		SID string `json:"sid"`
	}
	_ = json.Unmarshal(b, &ans)
	return Receipt{ProviderID: ans.SID}, nil
}
