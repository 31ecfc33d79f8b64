package deliver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// defaultHTTP is the client of the HTTP adapters: a send that takes longer
// than this is retried (with the same idempotency key).
// Its transport keeps as many idle connections per host as sends run at
// once (workers × batch), so concurrent sends to one receiver reuse
// connections instead of dialing (the default keeps 2).
var defaultHTTP = &http.Client{Timeout: 30 * time.Second, Transport: func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 128
	return t
}()}

// post sends body to url with headers and returns the answer's body on a
// 2xx, else a classified error naming provider.
func post(ctx context.Context, c *http.Client, provider, url, contentType string, body []byte, header http.Header) ([]byte, error) {
	if c == nil {
		c = defaultHTTP
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, Permanent(fmt.Errorf("%s: request to %q: %w", provider, url, err))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := c.Do(req)
	if err != nil {
		return nil, Temporary(fmt.Errorf("%s: %w", provider, err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return b, httpStatusError(provider, resp.StatusCode, b)
	}
	return b, nil
}
