package deliver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"tailor/internal/apierr"
	"tailor/internal/outbox"
)

// HTTP serves the delivery API: the transactional send, message history
// and the in-app inbox.
type HTTP struct {
	Engine *Engine
	Outbox *outbox.Store
	Inbox  *Inbox
	// Lookup resolves an identifier key ("email:a@b.c", "user_id:42") or a
	// profile id to the current profile id.
	Lookup func(identifier string) (string, bool)
	// WriteKey reports whether key is a live write key (the in-app inbox
	// is read by apps with the write key they send events with).
	WriteKey func(key string) bool
	// Template reports whether a template id exists (for channel, when
	// the template engine knows): a send naming none is refused with 404
	// rather than failing at send time. Nil: not checked.
	Template func(id, channel string) bool
	// Experiments runs message experiments (a template per variant); nil:
	// a send naming an experiment is refused.
	Experiments Experiments
	Now         func() time.Time
}

// Experiments is what a message experiment needs of the experiment engine
// (package experiment's Engine).
type Experiments interface {
	// Variants returns the experiment's variant ids, control first, and
	// whether it is running; an error when there is no such experiment.
	Variants(id string) (ids []string, running bool, err error)
	// ExposeOnce assigns the profile its variant and logs the exposure
	// unless the profile was exposed already.
	ExposeOnce(ctx context.Context, id, profile string) (variant string, err error)
}

// MaxSendBody bounds a POST /api/send body.
const MaxSendBody = 64 << 10

// Limits of what one request returns.
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
)

// Admin returns the routes under /api (the caller guards them).
func (h *HTTP) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/send", h.send)
	mux.HandleFunc("GET /api/messages", h.messages)
	mux.HandleFunc("GET /api/messages/{key}", h.message)
	mux.HandleFunc("GET /api/profiles/{identifier}/inbox", h.adminInbox)
	return mux
}

// Public returns the app-facing inbox routes under /v1 (write key).
func (h *HTTP) Public() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/inbox", h.appInbox)
	mux.HandleFunc("POST /v1/inbox/{id}/read", h.appRead)
	return mux
}

// SendRequest is the body of POST /api/send.
type SendRequest struct {
	Template string         `json:"template"`
	Version  int            `json:"version"`
	Profile  string         `json:"profile"` // identifier key or profile id
	Channel  string         `json:"channel"` // default email
	Data     map[string]any `json:"data"`
	// Key makes the request idempotent: a second send with the same key
	// is not enqueued again. Default: the Idempotency-Key header, else a
	// new random key.
	Key string `json:"key"`
	// Experiment names a message experiment (content or subject line):
	// the profile's variant chooses the template in Templates (variant id
	// -> template id), and its exposure is logged once per profile.
	// Template is then optional: the one sent while the experiment is not
	// running (default: control's).
	Experiment string            `json:"experiment,omitempty"`
	Templates  map[string]string `json:"templates,omitempty"`
}

func (h *HTTP) send(w http.ResponseWriter, r *http.Request) {
	var req SendRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxSendBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.TooLarge, "body is over %d bytes", MaxSendBody))
			return
		}
		apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.InvalidJSON, "body: %v", err))
		return
	}
	if req.Channel == "" {
		req.Channel = "email"
	}
	switch {
	case req.Template == "" && req.Experiment == "":
		apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.BadRequest, "template is required: the id of a saved template"))
		return
	case req.Profile == "":
		apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.BadRequest, `profile is required: an identifier such as "email:ann@example.com" or "user_id:42", or a profile id`))
		return
	case !slices.Contains(outbox.Channels, req.Channel):
		apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.BadRequest, "channel %q is not one of %s", req.Channel, strings.Join(outbox.Channels, ", ")))
		return
	case req.Version < 0:
		apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.BadRequest, "version must be 0 (current) or a saved version"))
		return
	}
	running := false
	if req.Experiment != "" {
		var err error
		if req.Template, running, err = h.experimentTemplates(&req); err != nil {
			apierr.WriteError(w, r, apierr.Plain, err)
			return
		}
	} else if len(req.Templates) > 0 {
		apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.BadRequest, "templates needs experiment: the experiment whose variants they are"))
		return
	}
	for _, t := range sendTemplates(&req) {
		if h.Template != nil && !h.Template(t, req.Channel) {
			apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.NotFound, "no %s template %q", req.Channel, t))
			return
		}
	}
	id, ok := h.Lookup(req.Profile)
	if !ok {
		apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.NotFound, "no profile with identifier %q", req.Profile))
		return
	}
	variant := ""
	if running {
		v, err := h.Experiments.ExposeOnce(r.Context(), req.Experiment, id)
		switch {
		case err == nil:
			variant, req.Template = v, req.Templates[v]
		default:
			// Stopped since the check, or the log refused the exposure:
			// the fallback is sent, unmeasured, rather than nothing.
			slog.Warn("send: experiment exposure", "experiment", req.Experiment, "profile", id, "err", err)
		}
	}
	if req.Key == "" {
		req.Key = r.Header.Get("Idempotency-Key")
	}
	if req.Key == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		req.Key = hex.EncodeToString(b[:])
	}
	key := "t:" + req.Key
	msg := outbox.Message{Key: key, Profile: id, Channel: req.Channel, Purpose: outbox.PurposeTransactional,
		Template: req.Template, TemplateVersion: req.Version, Data: req.Data}
	if err := h.Engine.Enqueue(r.Context(), []outbox.Message{msg}); err != nil {
		if strings.Contains(err.Error(), "message key") {
			apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.BadRequest, "key: %v", err))
			return
		}
		apierr.WriteError(w, r, apierr.Plain, err)
		return
	}
	rec, _, err := h.Outbox.Get(key)
	if err != nil || rec == nil {
		apierr.WriteError(w, r, apierr.Plain, fmt.Errorf("read back %s: %w", key, err))
		return
	}
	out := map[string]any{"key": key, "profile": id, "state": rec.State, "template": req.Template}
	if req.Experiment != "" {
		out["experiment"], out["variant"] = req.Experiment, variant
	}
	apierr.WriteJSON(w, http.StatusAccepted, out)
}

// experimentTemplates checks a send's experiment and its template per
// variant, and returns the template sent while it is not running (the
// request's, else control's).
func (h *HTTP) experimentTemplates(req *SendRequest) (fallback string, running bool, err error) {
	if h.Experiments == nil {
		return "", false, apierr.New(apierr.BadRequest, "experiment: this server runs no experiments")
	}
	vs, running, err := h.Experiments.Variants(req.Experiment)
	if err != nil {
		return "", false, apierr.Errorf(apierr.ExperimentNotFound, "experiment: no experiment %q", req.Experiment)
	}
	if err := CheckVariantTemplates(req.Experiment, vs, req.Templates); err != nil {
		return "", false, apierr.New(apierr.BadRequest, err.Error())
	}
	if req.Template == "" {
		req.Template = req.Templates[vs[0]]
	}
	return req.Template, running, nil
}

// CheckVariantTemplates says whether templates (variant id -> template id)
// names a template for every variant of experiment exp and nothing else.
func CheckVariantTemplates(exp string, variants []string, templates map[string]string) error {
	if len(templates) == 0 {
		return fmt.Errorf("templates: experiment %q needs a template per variant (%s)", exp, strings.Join(variants, ", "))
	}
	for _, v := range variants {
		if templates[v] == "" {
			return fmt.Errorf("templates: variant %q of experiment %q has no template", v, exp)
		}
	}
	for _, v := range slices.Sorted(maps.Keys(templates)) {
		if !slices.Contains(variants, v) {
			return fmt.Errorf("templates: %q is not a variant of experiment %q (%s)", v, exp, strings.Join(variants, ", "))
		}
	}
	return nil
}

// sendTemplates is every template a send may use, for the existence check.
func sendTemplates(req *SendRequest) []string {
	out := []string{req.Template}
	for _, v := range slices.Sorted(maps.Keys(req.Templates)) {
		if t := req.Templates[v]; !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func limitParam(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return DefaultListLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxListLimit {
		return 0, apierr.Errorf(apierr.BadRequest, "limit must be 1 to %d", MaxListLimit)
	}
	return n, nil
}

func (h *HTTP) messages(w http.ResponseWriter, r *http.Request) {
	who := r.URL.Query().Get("profile")
	if who == "" {
		apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.BadRequest, `profile is required, e.g. ?profile=email:ann@example.com`))
		return
	}
	limit, err := limitParam(r)
	if err != nil {
		apierr.WriteError(w, r, apierr.Plain, err)
		return
	}
	id, ok := h.Lookup(who)
	if !ok {
		apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.NotFound, "no profile with identifier %q", who))
		return
	}
	recs, err := h.Outbox.History(id, limit)
	if err != nil {
		apierr.WriteError(w, r, apierr.Plain, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"profile": id, "messages": recs})
}

func (h *HTTP) message(w http.ResponseWriter, r *http.Request) {
	rec, ok, err := h.Outbox.Get(r.PathValue("key"))
	if err != nil {
		apierr.WriteError(w, r, apierr.Plain, err)
		return
	}
	if !ok {
		apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.NotFound, "no message with key %q", r.PathValue("key")))
		return
	}
	apierr.WriteJSON(w, http.StatusOK, rec)
}

func (h *HTTP) listInbox(w http.ResponseWriter, r *http.Request, who string) {
	limit, err := limitParam(r)
	if err != nil {
		apierr.WriteError(w, r, apierr.Plain, err)
		return
	}
	id, ok := h.Lookup(who)
	if !ok {
		apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.NotFound, "no profile with identifier %q", who))
		return
	}
	items, unread, err := h.Inbox.List(id, limit)
	if err != nil {
		apierr.WriteError(w, r, apierr.Plain, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"profile": id, "unread": unread, "messages": items})
}

func (h *HTTP) adminInbox(w http.ResponseWriter, r *http.Request) {
	h.listInbox(w, r, r.PathValue("identifier"))
}

// appUser checks the write key (HTTP Basic user, as the Tracking API takes
// it) and returns the userId the app asks for.
func (h *HTTP) appUser(w http.ResponseWriter, r *http.Request) (string, bool) {
	key, _, ok := r.BasicAuth()
	if !ok || key == "" {
		apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.NoWriteKey, ""))
		return "", false
	}
	if !h.WriteKey(key) {
		apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.BadWriteKey, ""))
		return "", false
	}
	user := r.URL.Query().Get("userId")
	if user == "" {
		apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.BadRequest, "userId is required, e.g. ?userId=42"))
		return "", false
	}
	return "user_id:" + user, true
}

func (h *HTTP) appInbox(w http.ResponseWriter, r *http.Request) {
	if who, ok := h.appUser(w, r); ok {
		h.listInbox(w, r, who)
	}
}

func (h *HTTP) appRead(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 4096))
	who, ok := h.appUser(w, r)
	if !ok {
		return
	}
	id, ok := h.Lookup(who)
	if !ok {
		apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.NotFound, "no profile with identifier %q", who))
		return
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	item, err := h.Inbox.MarkRead(id, r.PathValue("id"), now())
	if errors.Is(err, ErrNoItem) {
		apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.NotFound, "no inbox message %q for this user", r.PathValue("id")))
		return
	}
	if err != nil {
		apierr.WriteError(w, r, apierr.Plain, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, item)
}
