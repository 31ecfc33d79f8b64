package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tailor/internal/deliver"
)

func TestDeliverFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
		check   func(c *deliver.Config) bool
	}{
		{[]string{"--cap", "email=3/7d", "--cap", "all=5/7d,sms=1/1d"}, "", func(c *deliver.Config) bool {
			return len(c.Caps) == 3 && c.Caps[0] == (deliver.Cap{Channel: "email", Max: 3, Days: 7}) && c.Caps[2].Channel == "sms"
		}},
		{[]string{"--quiet-hours", "21:00-08:00", "--holdout", "5", "--rate", "email=200", "--warmup", "email=500,x2;sms=100,x1.5"}, "", func(c *deliver.Config) bool {
			return c.Quiet != nil && c.Quiet.Start == 21*60 && c.HoldoutPercent == 5 && c.Rates["email"] == 200 && c.Warmup["sms"].First == 100
		}},
		{[]string{"--cap", "email=3"}, "--cap", nil},
		{[]string{"--quiet-hours", "late"}, "--quiet-hours", nil},
		{[]string{"--holdout", "lots"}, "--holdout", nil},
		{[]string{"--warmup", "email=500"}, "--warmup", nil},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var c deliver.Config
		apply := deliverFlags(fs, &c)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		err := apply()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err %v, want one naming %s", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !tc.check(&c) {
			t.Errorf("%v: err %v, config %+v", tc.args, err, c)
		}
	}
}

func TestSecretsFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s")
	os.WriteFile(p, []byte("# channel secrets\nTAILOR_SMTP_PASSWORD=pw=1\n\nTAILOR_PUSH_TOKEN = tok\n"), 0o600)
	var c deliver.Config
	if err := readSecrets(p, &c); err != nil || c.SMTP.Password != "pw=1" || c.PushToken != "tok" {
		t.Fatalf("err %v, config %+v", err, c)
	}
	os.WriteFile(p, []byte("TAILOR_SMTP_PASSWD=oops-secret\n"), 0o600)
	err := readSecrets(p, &c)
	if err == nil || !strings.Contains(err.Error(), "line 1") || strings.Contains(err.Error(), "oops-secret") {
		t.Fatalf("a misspelt name: %v (must name the line, not the value)", err)
	}
}
