package deliver

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Mail is direct (postal) mail: each message becomes a row of the day's
// print file, <Dir>/print-YYYY-MM-DD.csv (UTC day), which a print provider
// collects; with WebhookURL set, each message is also POSTed there as JSON
// (with an Idempotency-Key header) for providers with an API.
type Mail struct {
	Dir        string
	WebhookURL string
	Client     *http.Client

	mu sync.Mutex
}

// PrintHeader is the print file's header row.
var PrintHeader = []string{"message_key", "profile", "address", "title", "body", "created"}

// Send implements Adapter.
func (m *Mail) Send(ctx context.Context, env Envelope) (Receipt, error) {
	now := time.Now().UTC()
	text := env.Body
	if text == "" {
		text = env.Text
	}
	if m.WebhookURL != "" {
		body, _ := json.Marshal(map[string]string{"message_key": env.Key, "profile": env.Profile, "address": env.To, "title": env.Title, "body": text})
		h := http.Header{}
		h.Set(HeaderIdemKey, IdempotencyKey(env.Key))
		if _, err := post(ctx, m.Client, "mail webhook", m.WebhookURL, "application/json", body, h); err != nil {
			return Receipt{}, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := os.MkdirAll(m.Dir, 0o755); err != nil {
		return Receipt{}, Temporary(fmt.Errorf("mail: %w", err))
	}
	path := filepath.Join(m.Dir, "print-"+now.Format(time.DateOnly)+".csv")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return Receipt{}, Temporary(fmt.Errorf("mail: open print file: %w", err))
	}
	defer f.Close()
	w := csv.NewWriter(f)
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		_ = w.Write(PrintHeader)
	}
	_ = w.Write([]string{env.Key, env.Profile, env.To, env.Title, text, now.Format(time.RFC3339)})
	w.Flush()
	if err := w.Error(); err != nil {
		return Receipt{}, Temporary(fmt.Errorf("mail: write print file: %w", err))
	}
	if err := f.Sync(); err != nil {
		return Receipt{}, Temporary(fmt.Errorf("mail: sync print file: %w", err))
	}
	return Receipt{}, nil
}
