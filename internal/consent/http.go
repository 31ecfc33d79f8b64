package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"tailor/internal/apierr"
	"tailor/internal/track"
)

// HTTP serves the consent API, the preference center, one-click
// unsubscribe and the double opt-in confirmation.
type HTTP struct {
	Consent  *Consent
	Profiles track.Profiles
	Signer   *track.Signer
	Record   track.Recorder
	// Topics are the interests the preference center offers, stored as
	// the profile's `topics` trait (a list).
	Topics []string
	// Frequencies are the choices for the `message_frequency` trait.
	Frequencies []string
	// CSP is sent with the pages (the dashboard's policy).
	CSP string
	Now func() time.Time
	// Wait bounds how long a change waits to be applied before the answer
	// (so that it has taken effect when the answer arrives). Default 3s.
	Wait time.Duration
}

// DefaultFrequencies are the frequency choices when none are configured.
var DefaultFrequencies = []string{"any", "daily", "weekly", "monthly"}

func (h *HTTP) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// API returns GET and PUT /api/profiles/{identifier}/consent.
func (h *HTTP) API() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/profiles/{identifier}/consent", h.get)
	mux.HandleFunc("PUT /api/profiles/{identifier}/consent", h.put)
	return mux
}

// Pages returns the public pages: /p/{token}, /u/{token}, /t/d/{token}.
func (h *HTTP) Pages() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /p/{token}", h.prefsPage)
	mux.HandleFunc("POST /p/{token}", h.prefsSave)
	mux.HandleFunc("GET /u/{token}", h.unsubPage)
	mux.HandleFunc("POST /u/{token}", h.unsubPost)
	mux.HandleFunc("GET /t/d/{token}", h.confirmPage)
	mux.HandleFunc("POST /t/d/{token}", h.confirmPost)
	return mux
}

// ChannelState is one channel in the API's answer.
type ChannelState struct {
	Channel       string       `json:"channel"`
	Reachable     bool         `json:"reachable"` // the profile has an address for it
	Marketing     *Entry       `json:"marketing"`
	Transactional *Entry       `json:"transactional"`
	Suppressed    *Suppression `json:"suppressed"`
	Pending       *time.Time   `json:"pending_confirmation"`
	// Allowed says what a send would meet now, per purpose.
	Allowed map[string]Decision `json:"allowed"`
}

// Decision is Allowed's answer.
type Decision struct {
	OK     bool   `json:"ok"`
	Reason string `json:"reason,omitempty"`
}

// View is the consent of one profile as the API shows it.
type View struct {
	Profile        string         `json:"profile"`
	Channels       []ChannelState `json:"channels"`
	DoubleOptIn    bool           `json:"double_opt_in"`
	PreferencesURL string         `json:"preferences_url"`
	ConfirmURL     string         `json:"confirm_url,omitempty"` // while email waits for double opt-in
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	host := r.Host
	if fh := r.Header.Get("X-Forwarded-Host"); fh != "" {
		host = fh
	}
	return scheme + "://" + host
}

func (h *HTTP) view(p track.Profile, base string) View {
	s := h.Consent.Get(p.ID)
	v := View{Profile: p.ID, DoubleOptIn: h.Consent.opts.DoubleOptIn,
		PreferencesURL: h.Signer.URL(base, track.Claims{Kind: track.KindPreferences, Profile: p.ID})}
	for _, ch := range Channels {
		cs := ChannelState{Channel: ch, Reachable: Address(p, ch) != "", Allowed: map[string]Decision{}}
		if e, ok := s.Consents[ch+"/marketing"]; ok {
			cs.Marketing = &e
		}
		if e, ok := s.Consents[ch+"/transactional"]; ok {
			cs.Transactional = &e
		}
		if x, ok := s.Suppressed[ch]; ok {
			cs.Suppressed = &x
		}
		if t, ok := s.Pending[ch]; ok {
			cs.Pending = &t
			v.ConfirmURL = h.Signer.URL(base, track.Claims{Kind: track.KindConfirm, Profile: p.ID, Channel: ch})
		}
		for _, pu := range Purposes {
			ok, why := h.Consent.Allowed(p.ID, ch, pu)
			cs.Allowed[pu] = Decision{ok, why}
		}
		v.Channels = append(v.Channels, cs)
	}
	return v
}

func (h *HTTP) profile(w http.ResponseWriter, r *http.Request) (track.Profile, bool) {
	ident := r.PathValue("identifier")
	p, ok := h.Profiles.Profile(ident)
	if !ok {
		apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.ProfileNotFound, "no profile %q (give a profile id, userId, email or kind:value)", ident))
	}
	return p, ok
}

func (h *HTTP) get(w http.ResponseWriter, r *http.Request) {
	p, ok := h.profile(w, r)
	if !ok {
		return
	}
	apierr.WriteJSON(w, http.StatusOK, h.view(p, baseURL(r)))
}

// Change is one consent change in a PUT body.
type Change struct {
	Channel string `json:"channel"`
	Purpose string `json:"purpose"`
	Granted *bool  `json:"granted"`
	Source  string `json:"source"`
}

func (c *Change) check(i int) error {
	at := ""
	if i >= 0 {
		at = fmt.Sprintf("consents[%d].", i)
	}
	if !slices.Contains(Channels, c.Channel) {
		return apierr.Errorf(apierr.BadRequest, "%schannel %q: want one of %s", at, c.Channel, strings.Join(Channels, ", "))
	}
	if c.Purpose == "" {
		c.Purpose = "marketing"
	}
	if !slices.Contains(Purposes, c.Purpose) {
		return apierr.Errorf(apierr.BadRequest, "%spurpose %q: want marketing or transactional", at, c.Purpose)
	}
	if c.Granted == nil {
		return apierr.Errorf(apierr.BadRequest, "%sgranted: true or false is required", at)
	}
	if c.Source == "" {
		c.Source = SourceAPI
	}
	if len(c.Source) > 64 {
		return apierr.Errorf(apierr.BadRequest, "%ssource: at most 64 characters", at)
	}
	return nil
}

func (h *HTTP) put(w http.ResponseWriter, r *http.Request) {
	p, ok := h.profile(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.TooLarge, "body is over 64 KB"))
		return
	}
	var in struct {
		Change
		Consents []Change `json:"consents"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.InvalidJSON, "body is not valid JSON: %v", err))
		return
	}
	changes := in.Consents
	if len(changes) == 0 {
		if err := in.Change.check(-1); err != nil {
			apierr.WriteError(w, r, apierr.Plain, err)
			return
		}
		changes = []Change{in.Change}
	} else {
		for i := range changes {
			if err := changes[i].check(i); err != nil {
				apierr.WriteError(w, r, apierr.Plain, err)
				return
			}
		}
	}
	if err := h.recordChanges(r.Context(), p, changes, "api"); err != nil {
		apierr.WriteError(w, r, apierr.Plain, err)
		return
	}
	applied := h.wait(func() bool { return h.applied(p.ID, changes) })
	status := http.StatusOK
	if !applied {
		status = http.StatusAccepted // recorded durably; the processor is behind
	}
	apierr.WriteJSON(w, status, h.view(p, baseURL(r)))
}

func (h *HTTP) recordChanges(ctx context.Context, p track.Profile, changes []Change, via string) error {
	now := h.now()
	msgs := make([][]byte, 0, len(changes))
	for i, c := range changes {
		b, err := track.Event(p, EventChanged, fmt.Sprintf("%s\x00%s\x00%d\x00%d", via, p.ID, now.UnixNano(), i), now,
			map[string]any{"channel": c.Channel, "purpose": c.Purpose, "granted": *c.Granted, "source": c.Source})
		if err != nil {
			return err
		}
		msgs = append(msgs, b)
	}
	return h.record(ctx, msgs)
}

func (h *HTTP) record(ctx context.Context, msgs [][]byte) error {
	if len(msgs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h.Record(ctx, msgs); err != nil {
		return fmt.Errorf("record consent events: %w", err)
	}
	return nil
}

// applied reports whether the consent state shows every change (or its
// pending confirmation).
func (h *HTTP) applied(id string, changes []Change) bool {
	s := h.Consent.Get(id)
	for _, c := range changes {
		e, ok := s.Consents[c.Channel+"/"+c.Purpose]
		_, pending := s.Pending[c.Channel]
		if (!ok || e.Granted != *c.Granted || e.Source != c.Source) && !(*c.Granted && pending) {
			return false
		}
	}
	return true
}

func (h *HTTP) wait(done func() bool) bool {
	limit := h.Wait
	if limit == 0 {
		limit = 3 * time.Second
	}
	deadline := time.Now().Add(limit)
	for {
		if done() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// --- pages ---

func (h *HTTP) claims(w http.ResponseWriter, r *http.Request, kind string) (track.Claims, track.Profile, bool) {
	c, err := h.Signer.Verify(r.PathValue("token"), kind)
	if errors.Is(err, track.ErrExpired) {
		h.page(w, http.StatusGone, pageData{Title: "This link has expired", Message: expiredMessage[kind]})
		return c, track.Profile{}, false
	}
	if err != nil {
		h.page(w, http.StatusBadRequest, pageData{Title: "Link not valid", Message: "This link is not valid: it may have been cut short or changed. Open it again from the message you received."})
		return c, track.Profile{}, false
	}
	p, ok := h.Profiles.Profile(c.Profile)
	if !ok {
		h.page(w, http.StatusNotFound, pageData{Title: "Not found", Message: "We no longer keep data about this address."})
		return c, p, false
	}
	return c, p, true
}

// expiredMessage says, per kind of link, what to do when it has expired.
var expiredMessage = map[string]string{
	track.KindPreferences: "This link to your preferences has expired. Every message we send carries a fresh one: open the link in a recent message.",
	track.KindUnsubscribe: "This unsubscribe link has expired. Use the unsubscribe link in a recent message, or reply to it and ask us to stop.",
	track.KindConfirm:     "This confirmation link has expired. Subscribe again and we will send you a new one.",
}

type choice struct {
	Value, Label string
	Checked      bool
	Note         string
}

type pageData struct {
	Title, Message, Error string
	Saved                 bool
	Action                string
	Channels, Topics      []choice
	Frequencies           []choice
	Unsubscribe           string // the channel of the unsubscribe page
	Confirm               bool
}

var channelLabels = map[string]string{"email": "Email", "sms": "Text messages (SMS)", "push": "App notifications",
	"webpush": "Browser notifications", "inapp": "Messages in the app", "webhook": "Partner updates", "mail": "Letters by post"}

func label(s string) string {
	if l, ok := channelLabels[s]; ok {
		return l
	}
	if s == "" {
		return s
	}
	s = strings.ReplaceAll(s, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

func (h *HTTP) frequencies() []string {
	if len(h.Frequencies) > 0 {
		return h.Frequencies
	}
	return DefaultFrequencies
}

// prefChannels are the channels the preference center offers: the ones the
// profile can be reached on (a person cannot choose what we cannot send).
func (h *HTTP) prefChannels(p track.Profile) []string {
	var out []string
	for _, ch := range Channels {
		if ch == "webhook" || ch == "inapp" {
			continue // not the person's own channel to choose
		}
		if Address(p, ch) != "" {
			out = append(out, ch)
		}
	}
	return out
}

func (h *HTTP) prefsPage(w http.ResponseWriter, r *http.Request) {
	_, p, ok := h.claims(w, r, track.KindPreferences)
	if !ok {
		return
	}
	h.page(w, http.StatusOK, h.prefsData(p, r.URL.Query().Get("saved") == "1"))
}

func (h *HTTP) prefsData(p track.Profile, saved bool) pageData {
	d := pageData{Title: "Your preferences", Saved: saved}
	for _, ch := range h.prefChannels(p) {
		ok, why := h.Consent.Allowed(p.ID, ch, "marketing")
		c := choice{Value: ch, Label: label(ch), Checked: ok || why == "pending_confirmation"}
		switch {
		case why == "pending_confirmation":
			c.Note = "waiting for you to confirm through the link we sent"
		case strings.HasPrefix(why, "suppressed_"):
			c.Note = "paused: messages to this address could not be delivered"
		}
		d.Channels = append(d.Channels, c)
	}
	topics := map[string]bool{}
	if l, ok := p.Traits["topics"].([]any); ok {
		for _, t := range l {
			if s, ok := t.(string); ok {
				topics[s] = true
			}
		}
	}
	for _, t := range h.Topics {
		d.Topics = append(d.Topics, choice{Value: t, Label: label(t), Checked: topics[t]})
	}
	cur, _ := p.Traits["message_frequency"].(string)
	if cur == "" {
		cur = h.frequencies()[0]
	}
	for _, f := range h.frequencies() {
		l := label(f)
		if f == "any" {
			l = "Whenever there is news"
		}
		d.Frequencies = append(d.Frequencies, choice{Value: f, Label: l, Checked: f == cur})
	}
	return d
}

func (h *HTTP) prefsSave(w http.ResponseWriter, r *http.Request) {
	_, p, ok := h.claims(w, r, track.KindPreferences)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		d := h.prefsData(p, false)
		d.Error = "Your choices could not be read; please try again."
		h.page(w, http.StatusBadRequest, d)
		return
	}
	var changes []Change
	for _, ch := range h.prefChannels(p) {
		want := slices.Contains(r.PostForm["channel"], ch)
		okNow, why := h.Consent.Allowed(p.ID, ch, "marketing")
		has := okNow || why == "pending_confirmation"
		if want != has {
			g := want
			changes = append(changes, Change{Channel: ch, Purpose: "marketing", Granted: &g, Source: SourcePreferences})
		}
	}
	var topics []any
	for _, t := range r.PostForm["topic"] {
		if slices.Contains(h.Topics, t) {
			topics = append(topics, t)
		}
	}
	if topics == nil {
		topics = []any{}
	}
	freq := r.PostForm.Get("frequency")
	if !slices.Contains(h.frequencies(), freq) {
		d := h.prefsData(p, false)
		d.Error = "Choose how often you want to hear from us."
		h.page(w, http.StatusBadRequest, d)
		return
	}
	now := h.now()
	if err := h.recordChanges(r.Context(), p, changes, "prefs"); err != nil {
		slog.Error("preference center", "profile", p.ID, "err", err)
		h.page(w, http.StatusServiceUnavailable, pageData{Title: "Please try again", Message: "Your choices could not be saved just now. Please try again in a minute."})
		return
	}
	idm, err := track.Identify(p, fmt.Sprintf("prefs\x00%s\x00%d", p.ID, now.UnixNano()), now, map[string]any{"topics": topics, "message_frequency": freq})
	if err == nil {
		err = h.record(r.Context(), [][]byte{idm})
	}
	if err != nil {
		slog.Error("preference center", "profile", p.ID, "err", err)
		h.page(w, http.StatusServiceUnavailable, pageData{Title: "Please try again", Message: "Your choices could not be saved just now. Please try again in a minute."})
		return
	}
	h.wait(func() bool {
		q, ok := h.Profiles.Profile(p.ID)
		f, _ := q.Traits["message_frequency"].(string)
		return ok && f == freq && h.applied(p.ID, changes)
	})
	http.Redirect(w, r, r.URL.Path+"?saved=1", http.StatusSeeOther)
}

func (h *HTTP) unsubPage(w http.ResponseWriter, r *http.Request) {
	c, _, ok := h.claims(w, r, track.KindUnsubscribe)
	if !ok {
		return
	}
	h.page(w, http.StatusOK, pageData{Title: "Unsubscribe", Unsubscribe: label(c.Channel),
		Action: h.Signer.URL("", track.Claims{Kind: track.KindPreferences, Profile: c.Profile})})
}

// unsubPost is both the page's button and RFC 8058's one-click POST (body
// List-Unsubscribe=One-Click): it takes effect before the answer.
func (h *HTTP) unsubPost(w http.ResponseWriter, r *http.Request) {
	c, p, ok := h.claims(w, r, track.KindUnsubscribe)
	if !ok {
		return
	}
	ch := c.Channel
	if ch == "" {
		ch = "email"
	}
	now := h.now()
	props := map[string]any{"channel": ch, "message_key": c.Key, "template": c.Template}
	if c.Journey != "" {
		props["journey"], props["step"] = c.Journey, c.Step
	}
	// One unsubscribe per message: a repeated click appends nothing new.
	b, err := track.Event(p, EventUnsubscribed, "unsub\x00"+p.ID+"\x00"+ch+"\x00"+c.Key+"\x00"+strconv.FormatInt(now.Unix()/60, 10), now, props)
	if err == nil {
		err = h.record(r.Context(), [][]byte{b})
	}
	if err != nil {
		slog.Error("unsubscribe", "profile", p.ID, "err", err)
		h.page(w, http.StatusServiceUnavailable, pageData{Title: "Please try again", Message: "We could not unsubscribe you just now. Please try again in a minute."})
		return
	}
	h.wait(func() bool {
		e, ok := h.Consent.Get(p.ID).Consents[ch+"/marketing"]
		return ok && !e.Granted
	})
	h.page(w, http.StatusOK, pageData{Title: "You are unsubscribed",
		Message: fmt.Sprintf("You will no longer get marketing messages by %s.", strings.ToLower(label(ch))),
		Action:  h.Signer.URL("", track.Claims{Kind: track.KindPreferences, Profile: p.ID})})
}

func (h *HTTP) confirmPage(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := h.claims(w, r, track.KindConfirm); !ok {
		return
	}
	h.page(w, http.StatusOK, pageData{Title: "Confirm your subscription", Confirm: true})
}

func (h *HTTP) confirmPost(w http.ResponseWriter, r *http.Request) {
	c, p, ok := h.claims(w, r, track.KindConfirm)
	if !ok {
		return
	}
	g := true
	ch := Change{Channel: c.Channel, Purpose: "marketing", Granted: &g, Source: SourceDoubleOptIn}
	if err := ch.check(-1); err != nil {
		h.page(w, http.StatusBadRequest, pageData{Title: "Link not valid", Message: "This link is not valid."})
		return
	}
	if err := h.recordChanges(r.Context(), p, []Change{ch}, "confirm"); err != nil {
		slog.Error("confirm", "profile", p.ID, "err", err)
		h.page(w, http.StatusServiceUnavailable, pageData{Title: "Please try again", Message: "We could not confirm just now. Please try again in a minute."})
		return
	}
	// Not applied(): a pending confirmation counts as applied for a grant,
	// and this one is pending until the confirmation itself is applied.
	h.wait(func() bool {
		e, ok := h.Consent.Get(p.ID).Consents[ch.Channel+"/marketing"]
		return ok && e.Granted
	})
	h.page(w, http.StatusOK, pageData{Title: "Thank you", Message: "Your subscription is confirmed.",
		Action: h.Signer.URL("", track.Claims{Kind: track.KindPreferences, Profile: p.ID})})
}

func (h *HTTP) page(w http.ResponseWriter, status int, d pageData) {
	if h.CSP != "" {
		w.Header().Set("Content-Security-Policy", h.CSP)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the URL carries the token
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	if err := pageTmpl.Execute(w, d); err != nil && !errors.Is(err, http.ErrHandlerTimeout) {
		slog.Warn("render consent page", "err", err)
	}
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="robots" content="noindex">
<title>{{.Title}}</title>
<link rel="stylesheet" href="/assets/style.css">
<style>
main.prefs { max-width: 36rem; margin: 2rem auto; padding: 0 1rem; }
.prefs fieldset { border: 0; padding: 0; margin: 0 0 1rem; }
.prefs legend { font-weight: 600; margin-bottom: .4rem; }
.prefs .opt { display: flex; gap: .5rem; align-items: baseline; padding: .3rem 0; }
.prefs .ok { color: var(--ok); }
.prefs .err { color: var(--danger); }
</style>
</head>
<body>
<main class="prefs">
<h1>{{.Title}}</h1>
{{if .Saved}}<p class="card ok" role="status">Your choices are saved.</p>{{end}}
{{if .Error}}<p class="card err" role="alert">{{.Error}}</p>{{end}}
{{if .Message}}<p class="card">{{.Message}}</p>{{end}}
{{if .Unsubscribe}}
<form method="post" class="card">
<p>Stop marketing messages by <strong>{{.Unsubscribe}}</strong>? Messages you need, such as receipts, still arrive.</p>
<button class="btn danger" type="submit">Unsubscribe</button>
</form>
{{end}}
{{if .Confirm}}
<form method="post" class="card">
<p>Please confirm that you want to get our emails.</p>
<button class="btn primary" type="submit">Confirm</button>
</form>
{{end}}
{{if .Frequencies}}
<form method="post" class="card">
<fieldset>
<legend>How we may reach you</legend>
{{range .Channels}}<div class="opt"><input type="checkbox" name="channel" value="{{.Value}}" id="ch-{{.Value}}"{{if .Checked}} checked{{end}}><label for="ch-{{.Value}}">{{.Label}}</label>{{if .Note}} <span class="muted small">({{.Note}})</span>{{end}}</div>
{{else}}<p class="muted">We have no address to send you marketing messages.</p>{{end}}
</fieldset>
{{if .Topics}}<fieldset>
<legend>What interests you</legend>
{{range .Topics}}<div class="opt"><input type="checkbox" name="topic" value="{{.Value}}" id="tp-{{.Value}}"{{if .Checked}} checked{{end}}><label for="tp-{{.Value}}">{{.Label}}</label></div>
{{end}}</fieldset>{{end}}
<fieldset>
<legend>How often</legend>
{{range .Frequencies}}<div class="opt"><input type="radio" name="frequency" value="{{.Value}}" id="fq-{{.Value}}"{{if .Checked}} checked{{end}}><label for="fq-{{.Value}}">{{.Label}}</label></div>
{{end}}</fieldset>
<button class="btn primary" type="submit">Save my choices</button>
</form>
{{else if .Action}}<p><a href="{{.Action}}">Manage all your preferences</a></p>{{end}}
</main>
</body>
</html>
`))
