package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"tailor/internal/deliver"
)

// deliverFlags registers the delivery flags on fs (each with a TAILOR_*
// variable); the returned function applies the list-valued ones to c
// after fs.Parse. Secrets (passwords, tokens) are read here and never
// logged or printed.
func deliverFlags(fs *flag.FlagSet, c *deliver.Config) func() error {
	fs.IntVar(&c.Workers, "deliver-workers", envInt("TAILOR_DELIVER_WORKERS", 8), "delivery workers sending at once [TAILOR_DELIVER_WORKERS]")
	fs.StringVar(&c.BaseURL, "base-url", os.Getenv("TAILOR_BASE_URL"), "public URL of this server for links in messages (default: the listen URL) [TAILOR_BASE_URL]")
	holdout := fs.String("holdout", envOr("TAILOR_HOLDOUT", "0"), "percent of profiles in the global holdout group that never gets journey messages [TAILOR_HOLDOUT]")
	caps := listFlag(fs, "cap", "TAILOR_CAPS", "frequency cap across journeys, channel=N/period, e.g. email=3/7d or all=5/7d; repeat the flag or separate with commas [TAILOR_CAPS]")
	quiet := fs.String("quiet-hours", os.Getenv("TAILOR_QUIET_HOURS"), "marketing sends wait out this daily window in the profile's timezone trait, e.g. 21:00-08:00 [TAILOR_QUIET_HOURS]")
	rates := listFlag(fs, "rate", "TAILOR_RATES", "send rate limit of a channel in sends per second, e.g. email=200; repeat the flag or separate with commas [TAILOR_RATES]")
	warmup := fs.String("warmup", os.Getenv("TAILOR_WARMUP"), "warm-up schedule of a new sending domain: channel=first day's sends,xfactor, e.g. email=500,x2 (several separated by ;) [TAILOR_WARMUP]")

	fs.StringVar(&c.SMTP.Addr, "smtp-addr", os.Getenv("TAILOR_SMTP_ADDR"), "SMTP relay host:port; email is off without it [TAILOR_SMTP_ADDR]")
	fs.StringVar(&c.SMTP.From, "smtp-from", envOr("TAILOR_SMTP_FROM", "Tailor <tailor@localhost>"), "From address of email [TAILOR_SMTP_FROM]")
	fs.StringVar(&c.SMTP.Username, "smtp-user", os.Getenv("TAILOR_SMTP_USER"), "SMTP AUTH PLAIN user [TAILOR_SMTP_USER]")
	c.SMTP.Password = os.Getenv("TAILOR_SMTP_PASSWORD") // env only: flags show in ps
	fs.StringVar(&c.SMTP.TLS, "smtp-tls", envOr("TAILOR_SMTP_TLS", "starttls"), "starttls (when offered), require or none [TAILOR_SMTP_TLS]")
	fs.BoolVar(&c.SMTP.InsecureSkipVerify, "smtp-tls-insecure", os.Getenv("TAILOR_SMTP_TLS_INSECURE") == "1", "accept any STARTTLS certificate (test relays only) [TAILOR_SMTP_TLS_INSECURE=1]")
	fs.IntVar(&c.SMTP.MaxConns, "smtp-conns", envInt("TAILOR_SMTP_CONNS", 8), "SMTP connections open at once, each reused from message to message (pipelined where the server offers it) [TAILOR_SMTP_CONNS]")
	fs.StringVar(&c.SMTP.DKIMKeyFile, "dkim-key", os.Getenv("TAILOR_DKIM_KEY"), "PEM private key (RSA or Ed25519) to DKIM-sign email with [TAILOR_DKIM_KEY]")
	fs.StringVar(&c.SMTP.DKIMSelector, "dkim-selector", os.Getenv("TAILOR_DKIM_SELECTOR"), "DKIM selector of that key [TAILOR_DKIM_SELECTOR]")

	fs.StringVar(&c.WebhookURL, "webhook-url", os.Getenv("TAILOR_WEBHOOK_URL"), "endpoint of webhook messages that name none [TAILOR_WEBHOOK_URL]")
	c.WebhookSecret = os.Getenv("TAILOR_WEBHOOK_SECRET")
	fs.StringVar(&c.SMSBaseURL, "sms-url", os.Getenv("TAILOR_SMS_URL"), "base URL of a Twilio-compatible SMS API [TAILOR_SMS_URL]")
	fs.StringVar(&c.SMSAccount, "sms-account", os.Getenv("TAILOR_SMS_ACCOUNT"), "SMS account SID [TAILOR_SMS_ACCOUNT]")
	c.SMSToken = os.Getenv("TAILOR_SMS_TOKEN")
	fs.StringVar(&c.SMSFrom, "sms-from", os.Getenv("TAILOR_SMS_FROM"), "SMS sender number [TAILOR_SMS_FROM]")
	fs.StringVar(&c.PushURL, "push-url", os.Getenv("TAILOR_PUSH_URL"), "FCM HTTP v1-compatible send URL (…/v1/projects/<project>/messages:send) [TAILOR_PUSH_URL]")
	c.PushToken = os.Getenv("TAILOR_PUSH_TOKEN")
	fs.StringVar(&c.VAPIDKeyFile, "vapid-key", os.Getenv("TAILOR_VAPID_KEY"), "PEM P-256 private key that signs web push requests (VAPID); web push is off without it [TAILOR_VAPID_KEY]")
	fs.StringVar(&c.VAPIDSubject, "vapid-subject", os.Getenv("TAILOR_VAPID_SUBJECT"), "contact the push services see, mailto:ops@shop.example [TAILOR_VAPID_SUBJECT]")
	fs.StringVar(&c.MailDir, "mail-dir", os.Getenv("TAILOR_MAIL_DIR"), "directory of the daily direct-mail print files (default <data dir>/mail) [TAILOR_MAIL_DIR]")
	fs.StringVar(&c.MailWebhook, "mail-webhook", os.Getenv("TAILOR_MAIL_WEBHOOK"), "print provider endpoint each direct-mail message is also POSTed to [TAILOR_MAIL_WEBHOOK]")
	secrets := fs.String("secrets-file", os.Getenv("TAILOR_SECRETS_FILE"), "file of NAME=value lines for TAILOR_SMTP_PASSWORD, TAILOR_WEBHOOK_SECRET, TAILOR_SMS_TOKEN and TAILOR_PUSH_TOKEN (secrets never go on the command line) [TAILOR_SECRETS_FILE]")
	return func() error {
		if *secrets != "" {
			if err := readSecrets(*secrets, c); err != nil {
				return fmt.Errorf("%w: --secrets-file: %v", errUsage, err)
			}
		}
		h, err := strconv.ParseFloat(*holdout, 64)
		if err != nil {
			return fmt.Errorf("%w: --holdout %q: want a percentage such as 5", errUsage, *holdout)
		}
		c.HoldoutPercent = h
		for _, s := range *caps {
			cp, err := deliver.ParseCap(s)
			if err != nil {
				return fmt.Errorf("%w: --cap: %v", errUsage, err)
			}
			c.Caps = append(c.Caps, cp)
		}
		if *quiet != "" {
			q, err := deliver.ParseQuietHours(*quiet)
			if err != nil {
				return fmt.Errorf("%w: --quiet-hours: %v", errUsage, err)
			}
			c.Quiet = &q
		}
		for _, s := range *rates {
			ch, r, err := deliver.ParseRate(s)
			if err != nil {
				return fmt.Errorf("%w: --rate: %v", errUsage, err)
			}
			if c.Rates == nil {
				c.Rates = map[string]float64{}
			}
			c.Rates[ch] = r
		}
		if *warmup != "" {
			// "email=500,x2": the comma belongs to the value, so one per flag.
			for _, s := range strings.Split(*warmup, ";") {
				ch, w, err := deliver.ParseWarmup(strings.TrimSpace(s))
				if err != nil {
					return fmt.Errorf("%w: --warmup: %v", errUsage, err)
				}
				if c.Warmup == nil {
					c.Warmup = map[string]deliver.Warmup{}
				}
				c.Warmup[ch] = w
			}
		}
		return nil
	}
}

// listFlag registers a flag that may be repeated, each value a
// comma-separated list, starting from the environment variable env.
func listFlag(fs *flag.FlagSet, name, env, usage string) *[]string {
	list := splitList(os.Getenv(env))
	fs.Func(name, usage, func(v string) error {
		list = append(list, splitList(v)...)
		return nil
	})
	return &list
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// readSecrets fills c's secrets from a file of NAME=value lines (blank
// lines and # comments skipped); an unknown name is an error, so that a
// typo does not leave a channel silently without its secret.
func readSecrets(path string, c *deliver.Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dst := map[string]*string{"TAILOR_SMTP_PASSWORD": &c.SMTP.Password, "TAILOR_WEBHOOK_SECRET": &c.WebhookSecret,
		"TAILOR_SMS_TOKEN": &c.SMSToken, "TAILOR_PUSH_TOKEN": &c.PushToken}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		p := dst[strings.TrimSpace(name)]
		if !ok || p == nil {
			return fmt.Errorf("%s line %d: want one of TAILOR_SMTP_PASSWORD, TAILOR_WEBHOOK_SECRET, TAILOR_SMS_TOKEN, TAILOR_PUSH_TOKEN = value", path, i+1)
		}
		*p = strings.TrimSpace(val)
	}
	return nil
}
