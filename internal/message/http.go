package message

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"tailor/internal/apierr"
	"tailor/internal/track"
)

// Event names the tracking links record.
const (
	EventOpened  = "Message Opened"
	EventClicked = "Message Clicked"
)

// HTTP serves the template API and the tracking links.
type HTTP struct {
	Engine *Engine
	Record track.Recorder
	Now    func() time.Time
}

const maxTemplateBody = 1 << 20

// API returns /api/templates routes (mount behind the admin guard).
func (h *HTTP) API() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/templates", h.list)
	mux.HandleFunc("POST /api/templates", h.create)
	mux.HandleFunc("POST /api/templates/preview", h.preview)
	mux.HandleFunc("GET /api/templates/{id}", h.get)
	mux.HandleFunc("PUT /api/templates/{id}", h.replace)
	mux.HandleFunc("DELETE /api/templates/{id}", h.delete)
	return mux
}

// Tracking returns the public /t/o/ and /t/c/ routes (no login: the token
// is the authority).
func (h *HTTP) Tracking() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /t/o/{token}", h.open)
	mux.HandleFunc("GET /t/c/{token}", h.click)
	return mux
}

func fail(w http.ResponseWriter, r *http.Request, err error) {
	var pe *PositionError
	if errors.As(err, &pe) {
		apierr.WriteJSON(w, http.StatusBadRequest, struct {
			apierr.Body
			*PositionError
		}{apierr.Body{Error: "template is not valid: " + pe.Error(), Code: apierr.InvalidTemplate}, pe})
		return
	}
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		err = apierr.New(apierr.InvalidTemplate, "template is not valid: "+ve.Msg)
	case errors.Is(err, ErrNotFound):
		err = apierr.New(apierr.TemplateNotFound, err.Error())
	case errors.Is(err, ErrExists):
		err = apierr.New(apierr.TemplateExists, err.Error())
	case errors.Is(err, ErrNoProfile):
		err = apierr.New(apierr.ProfileNotFound, err.Error())
	}
	apierr.WriteError(w, r, apierr.Plain, err)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTemplateBody))
	if err != nil {
		fail(w, r, apierr.New(apierr.TooLarge, "body is over 1 MB"))
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		fail(w, r, apierr.Errorf(apierr.InvalidJSON, "body is not valid JSON: %v", err))
		return false
	}
	return true
}

func (h *HTTP) list(w http.ResponseWriter, r *http.Request) {
	l, err := h.Engine.Templates.List()
	if err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"templates": l})
}

func (h *HTTP) create(w http.ResponseWriter, r *http.Request) {
	var t Template
	if !decode(w, r, &t) {
		return
	}
	t, err := h.Engine.Templates.Save(t, true)
	if err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusCreated, t)
}

func (h *HTTP) replace(w http.ResponseWriter, r *http.Request) {
	var t Template
	if !decode(w, r, &t) {
		return
	}
	if t.ID == "" {
		t.ID = r.PathValue("id")
	}
	if t.ID != r.PathValue("id") {
		fail(w, r, apierr.Errorf(apierr.InvalidTemplate, "id %q in the body differs from %q in the path", t.ID, r.PathValue("id")))
		return
	}
	t, err := h.Engine.Templates.Save(t, false)
	if err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, t)
}

func (h *HTTP) get(w http.ResponseWriter, r *http.Request) {
	v := 0
	if s := r.URL.Query().Get("version"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fail(w, r, apierr.Errorf(apierr.BadRequest, "version %q: want a positive number", s))
			return
		}
		v = n
	}
	t, err := h.Engine.Templates.Get(r.PathValue("id"), v)
	if err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, t)
}

func (h *HTTP) delete(w http.ResponseWriter, r *http.Request) {
	if err := h.Engine.Templates.Delete(r.PathValue("id")); err != nil {
		fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// PreviewRequest is the body of POST /api/templates/preview: a template
// body (Template) or a saved one (ID, Version), a profile identifier and
// optional event data.
type PreviewRequest struct {
	Template *Template      `json:"template"`
	ID       string         `json:"id"`
	Version  int            `json:"version"`
	Profile  string         `json:"profile"`
	Data     map[string]any `json:"data"`
}

func (h *HTTP) preview(w http.ResponseWriter, r *http.Request) {
	var pr PreviewRequest
	if !decode(w, r, &pr) {
		return
	}
	if pr.Profile == "" {
		fail(w, r, apierr.New(apierr.BadRequest, "profile: name the profile to preview for (a profile id, userId, email or kind:value)"))
		return
	}
	var t Template
	switch {
	case pr.Template != nil:
		t = *pr.Template
		if t.ID == "" {
			t.ID = "preview"
		}
		if err := t.Validate(h.Engine.liq); err != nil {
			fail(w, r, err)
			return
		}
	case pr.ID != "":
		var err error
		if t, err = h.Engine.Templates.Get(pr.ID, pr.Version); err != nil {
			fail(w, r, err)
			return
		}
	default:
		fail(w, r, apierr.New(apierr.BadRequest, "give a template body (template) or a saved template id (id)"))
		return
	}
	out, err := h.Engine.Preview(r.Context(), &t, RenderRequest{Profile: pr.Profile, Data: pr.Data, BaseURL: BaseURL(r)})
	if err != nil {
		if !errors.Is(err, ErrNoProfile) && !errors.Is(err, ErrNotFound) {
			var pe *PositionError
			if !errors.As(err, &pe) {
				err = apierr.New(apierr.RenderFailed, err.Error())
			}
		}
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, previewJSON(out))
}

func previewJSON(o Rendered) map[string]any {
	m := map[string]any{"channel": o.Channel, "to": o.To, "template": o.Template, "version": o.Version, "locale": o.Locale,
		"subject": o.Subject, "html": o.HTML, "text": o.Text, "title": o.Title, "body": o.Body, "url": o.URL, "headers": o.Headers}
	if o.JSON != nil {
		m["json"] = string(o.JSON)
	}
	return m
}

// BaseURL is the server's URL as the request reached it (behind a proxy,
// from X-Forwarded-Proto / -Host).
func BaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	host := r.Host
	if fh := r.Header.Get("X-Forwarded-Host"); fh != "" {
		host = fh
	}
	return scheme + "://" + host
}

// linkPage answers a click link that cannot redirect with a small page
// saying why (and, for an expired one, where it led).
func linkPage(w http.ResponseWriter, status int, title, msg, dest string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = linkPageTmpl.Execute(w, struct{ Title, Message, Dest string }{title, msg, dest})
}

var linkPageTmpl = template.Must(template.New("link").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{.Title}}</title><link rel="stylesheet" href="/assets/style.css"></head>
<body><main style="max-width:36rem;margin:2rem auto;padding:0 1rem"><h1>{{.Title}}</h1><p class="card">{{.Message}}
{{if .Dest}}<br><a href="{{.Dest}}" rel="noopener noreferrer">{{.Dest}}</a>{{end}}</p></main></body></html>
`))

// pixel is a transparent 1x1 GIF.
var pixel = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff\x21\xf9\x04\x01\x00\x00\x00\x00\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b")

func (h *HTTP) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// record appends the event a followed link stands for; a failure is
// logged, never shown to the person who clicked.
func (h *HTTP) record(ctx context.Context, c track.Claims, name, id string, extra map[string]any) error {
	if c.Key == PreviewKey {
		return nil // a preview's links work but are nobody's message
	}
	p, ok := h.Engine.Profiles.Profile(c.Profile)
	if !ok {
		return ErrNoProfile
	}
	props := map[string]any{"message_key": c.Key, "channel": c.Channel, "template": c.Template}
	if c.Journey != "" {
		props["journey"], props["step"] = c.Journey, c.Step
	}
	for k, v := range extra {
		props[k] = v
	}
	now := h.now()
	b, err := track.Event(p, name, id, now, props)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return h.Record(ctx, [][]byte{b})
}

func (h *HTTP) open(w http.ResponseWriter, r *http.Request) {
	if c, err := h.Engine.Signer.Verify(r.PathValue("token"), track.KindOpen); err == nil {
		// Opens count once per message and minute: image proxies fetch twice.
		id := c.Key + "\x00" + strconv.FormatInt(h.now().Unix()/60, 10)
		if err := h.record(r.Context(), c, EventOpened, id, nil); err != nil {
			slog.Warn("record open", "message_key", c.Key, "err", err)
		}
	}
	w.Header().Set("Content-Type", "image/gif")
	w.Header().Set("Cache-Control", "no-store, max-age=0")
	_, _ = w.Write(pixel)
}

func (h *HTTP) click(w http.ResponseWriter, r *http.Request) {
	c, err := h.Engine.Signer.Verify(r.PathValue("token"), track.KindClick)
	if errors.Is(err, track.ErrExpired) && c.URL != "" {
		// Genuine but old: say so, and let the person go on by hand (the
		// signature proves a message of ours pointed there); no click is
		// recorded.
		linkPage(w, http.StatusGone, "This link has expired",
			"The link in this message is too old to follow automatically. It led to:", c.URL)
		return
	}
	if err != nil || c.URL == "" {
		linkPage(w, http.StatusBadRequest, "Link not valid", "This link is not valid: it may have been cut short or changed.", "")
		return
	}
	id := c.Key + "\x00" + c.URL + "\x00" + strconv.FormatInt(h.now().Unix(), 10)
	if err := h.record(r.Context(), c, EventClicked, id, map[string]any{"url": c.URL}); err != nil {
		slog.Warn("record click", "message_key", c.Key, "err", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, c.URL, http.StatusFound)
}
