package deliver

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Config is the delivery part of a node's configuration: workers, the send
// policy, pacing and the channels. A channel without its settings has no
// adapter: its messages fail with "no adapter configured" (in-app and
// direct mail need none and are always on).
type Config struct {
	Workers int    // delivery workers; default 8
	BaseURL string // public URL for links in messages; default: the listen URL

	HoldoutPercent float64 // of profiles in the global holdout (journey messages only); default 0
	Caps           []Cap
	Quiet          *QuietHours
	Rates          map[string]float64 // sends per second per channel
	Warmup         map[string]Warmup

	SMTP SMTPOptions // email: on when SMTP.Addr is set

	WebhookURL    string // default endpoint when a message names none
	WebhookSecret string // HMAC key of the signature header

	SMSBaseURL, SMSAccount, SMSToken, SMSFrom string // on when SMSBaseURL is set
	PushURL, PushToken                        string // on when PushURL is set
	VAPIDKeyFile, VAPIDSubject                string // web push: on when VAPIDKeyFile is set

	MailDir     string // print files; default <data dir>/mail
	MailWebhook string
}

// Validate reports configuration mistakes, naming the flag.
func (c *Config) Validate() error {
	var errs []error
	if c.Workers < 0 || c.Workers > 1024 {
		errs = append(errs, fmt.Errorf("--deliver-workers must be 1 to 1024, got %d", c.Workers))
	}
	if c.HoldoutPercent < 0 || c.HoldoutPercent > 100 {
		errs = append(errs, fmt.Errorf("--holdout must be a percentage 0 to 100, got %v", c.HoldoutPercent))
	}
	for flag, u := range map[string]string{"--base-url": c.BaseURL, "--webhook-url": c.WebhookURL, "--sms-url": c.SMSBaseURL, "--push-url": c.PushURL, "--mail-webhook": c.MailWebhook} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q: want an http(s) URL", flag, u))
		}
	}
	if c.WebhookURL != "" && c.WebhookSecret == "" {
		errs = append(errs, errors.New("--webhook-secret is required with --webhook-url: receivers check the signature with it"))
	}
	if c.SMSBaseURL != "" && (c.SMSAccount == "" || c.SMSToken == "" || c.SMSFrom == "") {
		errs = append(errs, errors.New("--sms-url needs --sms-account, --sms-token and --sms-from"))
	}
	if c.VAPIDKeyFile != "" && !strings.HasPrefix(c.VAPIDSubject, "mailto:") && !strings.HasPrefix(c.VAPIDSubject, "https://") {
		errs = append(errs, errors.New("--vapid-subject is required with --vapid-key: a mailto: or https: contact for the push services"))
	}
	if c.PushURL != "" && c.PushToken == "" {
		errs = append(errs, errors.New("--push-url needs --push-token"))
	}
	return errors.Join(errs...)
}

// Adapters builds the configured channels' adapters. The returned close
// function closes pooled connections.
func (c *Config) Adapters(db *pebble.DB, dataDir string) (map[string]Adapter, *Inbox, func(), error) {
	inbox := &Inbox{DB: db}
	dir := c.MailDir
	if dir == "" {
		dir = filepath.Join(dataDir, "mail")
	}
	ads := map[string]Adapter{"inapp": inbox, "mail": &Mail{Dir: dir, WebhookURL: c.MailWebhook}}
	closeFn := func() {}
	if c.SMTP.Addr != "" {
		s, err := NewSMTP(c.SMTP)
		if err != nil {
			return nil, nil, nil, err
		}
		ads["email"] = s
		closeFn = s.Close
	}
	if c.WebhookSecret != "" {
		ads["webhook"] = &Webhook{URL: c.WebhookURL, Secret: c.WebhookSecret}
	}
	if c.SMSBaseURL != "" {
		ads["sms"] = &SMS{BaseURL: c.SMSBaseURL, AccountSID: c.SMSAccount, AuthToken: c.SMSToken, From: c.SMSFrom}
	}
	if c.PushURL != "" {
		ads["push"] = &Push{URL: c.PushURL, Token: c.PushToken}
	}
	if c.VAPIDKeyFile != "" {
		k, err := LoadVAPIDKey(c.VAPIDKeyFile)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--vapid-key: %w", err)
		}
		ads["webpush"] = &WebPush{Key: k, Subject: c.VAPIDSubject}
	}
	return ads, inbox, closeFn, nil
}
