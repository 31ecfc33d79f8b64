// Package message owns message templates: their versions in the store,
// Liquid rendering against a profile, event data and the catalog, the
// rewriting of email links into signed click redirects with an open pixel,
// and the unsubscribe headers. Deliver renders through Renderer at send time.
package message

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/osteele/liquid"
)

// Channels a template can be written for.
var Channels = []string{"email", "sms", "push", "webpush", "inapp", "webhook", "mail"}

// Parts are the Liquid sources of one template (or of one locale variant of
// it). Which parts a channel uses: email Subject, HTML, Text; sms Body;
// push, webpush, inapp Title, Body, URL; webhook JSON (and URL, the
// endpoint); mail Body (and Title).
type Parts struct {
	Subject string `json:"subject,omitempty"`
	HTML    string `json:"html,omitempty"`
	Text    string `json:"text,omitempty"`
	Title   string `json:"title,omitempty"`
	Body    string `json:"body,omitempty"`
	URL     string `json:"url,omitempty"`
	JSON    string `json:"json,omitempty"`
}

// Template is one version of a template.
type Template struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Channel string    `json:"channel"`
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	Parts
	// Locales are variants picked by the profile's locale trait ("fr-CA"
	// matches "fr-CA", then "fr"); a part a variant leaves empty comes
	// from the default parts.
	Locales map[string]Parts `json:"locales,omitempty"`
	// Defaults are values for profile traits a profile lacks, so that
	// {{ profile.traits.first_name }} reads "there" rather than nothing.
	Defaults map[string]any `json:"defaults,omitempty"`
}

// PositionError is a template that does not parse: the part (field, with
// its locale as "locales.fr.subject") and where in it.
type PositionError struct {
	Field  string `json:"field"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Msg    string `json:"message"`
}

func (e *PositionError) Error() string {
	return fmt.Sprintf("%s: line %d, column %d: %s", e.Field, e.Line, e.Column, e.Msg)
}

// ValidationError is a template whose shape is wrong (no channel, unknown
// channel, a part the channel needs is missing).
type ValidationError struct{ Msg string }

func (e *ValidationError) Error() string { return e.Msg }

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// fields lists the parts with their JSON names, in a fixed order.
func (p *Parts) fields() []struct {
	name string
	src  *string
} {
	return []struct {
		name string
		src  *string
	}{{"subject", &p.Subject}, {"html", &p.HTML}, {"text", &p.Text}, {"title", &p.Title}, {"body", &p.Body}, {"url", &p.URL}, {"json", &p.JSON}}
}

// Validate checks t's shape and parses every part, reporting the first
// parse error with its position.
func (t *Template) Validate(eng *liquid.Engine) error {
	if !idPattern.MatchString(t.ID) {
		return &ValidationError{fmt.Sprintf("id %q: use 1-64 lowercase letters, digits, - or _", t.ID)}
	}
	if !slices.Contains(Channels, t.Channel) {
		return &ValidationError{fmt.Sprintf("channel %q: want one of %s", t.Channel, strings.Join(Channels, ", "))}
	}
	need := map[string][]string{
		"email": {"subject"}, "sms": {"body"}, "push": {"body"}, "webpush": {"body"},
		"inapp": {"body"}, "webhook": {"json", "url"}, "mail": {"body"},
	}[t.Channel]
	for _, f := range t.fields() {
		if slices.Contains(need, f.name) && strings.TrimSpace(*f.src) == "" {
			return &ValidationError{fmt.Sprintf("%s: a %s template needs it", f.name, t.Channel)}
		}
	}
	if t.Channel == "email" && strings.TrimSpace(t.HTML) == "" && strings.TrimSpace(t.Text) == "" {
		return &ValidationError{"html, text: an email template needs at least one of them"}
	}
	if err := parseParts(eng, "", &t.Parts); err != nil {
		return err
	}
	locs := make([]string, 0, len(t.Locales))
	for l := range t.Locales {
		locs = append(locs, l)
	}
	slices.Sort(locs)
	for _, l := range locs {
		if !localePattern.MatchString(l) {
			return &ValidationError{fmt.Sprintf("locales.%s: not a locale like fr or pt-BR", l)}
		}
		p := t.Locales[l]
		if err := parseParts(eng, "locales."+l+".", &p); err != nil {
			return err
		}
	}
	return nil
}

var localePattern = regexp.MustCompile(`^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})*$`)

func parseParts(eng *liquid.Engine, prefix string, p *Parts) error {
	for _, f := range p.fields() {
		if *f.src == "" {
			continue
		}
		if _, err := eng.ParseString(*f.src); err != nil {
			return positionOf(prefix+f.name, *f.src, err)
		}
	}
	return nil
}

// liquidErr matches the text of a liquid SourceError: the library reports
// the line and the source text of the failing token, not the column, so the
// column is where that text starts on that line.
var liquidErr = regexp.MustCompile(`(?s)^Liquid error(?: \(line (\d+)\))?: (.*?)(?: in (\{[{%].*))?$`)

func positionOf(field, src string, err error) *PositionError {
	pe := &PositionError{Field: field, Line: 1, Column: 1, Msg: err.Error()}
	m := liquidErr.FindStringSubmatch(err.Error())
	if m == nil {
		return pe
	}
	pe.Msg = m[2]
	if n, e := strconv.Atoi(m[1]); e == nil && n > 0 {
		pe.Line = n
	}
	lines := strings.Split(src, "\n")
	if pe.Line > len(lines) {
		pe.Line = len(lines)
	}
	if ctx := m[3]; ctx != "" {
		// The token may span lines; look from the start of its first line.
		off := 0
		for i := 0; i < pe.Line-1; i++ {
			off += len(lines[i]) + 1
		}
		if i := strings.Index(src[off:], ctx); i >= 0 {
			abs := off + i
			pe.Line = strings.Count(src[:abs], "\n") + 1
			pe.Column = abs - (strings.LastIndex(src[:abs], "\n") + 1) + 1
		} else if i := strings.Index(src, ctx); i >= 0 {
			pe.Line = strings.Count(src[:i], "\n") + 1
			pe.Column = i - (strings.LastIndex(src[:i], "\n") + 1) + 1
		}
	}
	return pe
}

// pick returns the parts for locale: the exact variant, else the language's,
// else the defaults; a variant's empty parts come from the defaults.
func (t *Template) pick(locale string) (Parts, string) {
	p := t.Parts
	l := strings.ReplaceAll(strings.TrimSpace(locale), "_", "-")
	if l == "" || len(t.Locales) == 0 {
		return p, ""
	}
	cands := []string{l}
	if lang, _, ok := strings.Cut(l, "-"); ok {
		cands = append(cands, lang)
	}
	for _, c := range cands {
		for k, v := range t.Locales {
			if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), c) {
				ov := v
				for i, f := range ov.fields() {
					if *f.src != "" {
						*p.fields()[i].src = *f.src
					}
				}
				return p, k
			}
		}
	}
	return p, ""
}
