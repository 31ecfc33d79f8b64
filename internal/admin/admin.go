// Package admin owns the admin REST API (/api/*): profiles, timelines,
// search, the rejected-events view and the catalog, behind a bearer token.
package admin

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"tailor/internal/apierr"
	"tailor/internal/event"
	"tailor/internal/eventlog"
	"tailor/internal/ingest"
	"tailor/internal/profile"
)

// Events is what the admin API reads of the event log: a profile's
// timeline and the events it points at.
type Events interface {
	Timeline(identifiers []string, before eventlog.Cursor, limit int) ([]eventlog.Pointer, error)
	Get(partition int, seq uint64) ([]byte, error)
}

// Merges reads the audit trail of identity merges into a profile.
type Merges interface {
	Merges(profileID string) ([]profile.Merge, error)
}

// API serves /api/*. Store is read under its own locks; Events and Merges
// are interfaces so that another log (a JetStream stream) can stand in.
type API struct {
	Token    string
	Store    *profile.Store
	Events   Events
	Merges   Merges
	Rejected *ingest.Rejected
	Sources  *ingest.Sources
	// Stats serves GET /api/stats and Live GET /api/events/stream, the
	// dashboard's overview figures and live events debugger (may be nil).
	Stats, Live http.Handler
	// Catalog serves /api/catalog/ (may be nil).
	Catalog http.Handler
	// Segments serves /api/segments (may be nil).
	Segments http.Handler
	// Journeys serves /api/journeys (may be nil).
	Journeys http.Handler
	// ProfileSegments answers GET /api/profiles/{identifier}/segments for a
	// profile id: the segments it is in and its computed fields and model
	// scores (the segment engine's ProfileView). Nil: the route is 404.
	ProfileSegments func(profileID string) (any, error)
	// Search answers GET /api/profiles?trait=… from an index (the
	// segment engine's SearchTrait): up to limit profile ids whose trait
	// matches value under op (eq, prefix or contains, case-insensitive).
	// Nil falls back on the profile store's scan, which knows eq only.
	Search func(trait, op, value string, limit int) ([]string, error)
	// Accounts serves /api/auth/ and /api/users (may be nil).
	Accounts http.Handler
	// Guard admits the requests to every route (package auth: the admin
	// token or a session with a role high enough). Nil admits the admin
	// token only.
	Guard func(http.Handler) http.Handler
	// Messaging serves templates, coupons and profile consent (package
	// server wires message, coupon and consent).
	Messaging http.Handler
}

// Handler returns the routes, all behind Guard (or the admin token).
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/profiles/{identifier}", a.getProfile)
	mux.HandleFunc("GET /api/profiles/{identifier}/timeline", a.getTimeline)
	mux.HandleFunc("GET /api/profiles/{identifier}/merges", a.getMerges)
	if a.ProfileSegments != nil {
		mux.HandleFunc("GET /api/profiles/{identifier}/segments", a.getProfileSegments)
	}
	mux.HandleFunc("GET /api/profiles", a.searchProfiles)
	mux.HandleFunc("GET /api/rejected", a.listRejected)
	mux.HandleFunc("GET /api/sources", a.listSources)
	mux.HandleFunc("POST /api/sources", a.createSource)
	mux.HandleFunc("DELETE /api/sources/{id}", a.deleteSource)
	if a.Stats != nil {
		mux.Handle("GET /api/stats", a.Stats)
	}
	if a.Live != nil {
		mux.Handle("GET /api/events/stream", a.Live)
	}
	if a.Catalog != nil {
		mux.Handle("/api/catalog/", a.Catalog)
	}
	if a.Segments != nil {
		mux.Handle("/api/segments", a.Segments)
		mux.Handle("/api/segments/", a.Segments)
	}
	if a.Messaging != nil {
		mux.Handle("/api/templates", a.Messaging)
		mux.Handle("/api/templates/", a.Messaging)
		mux.Handle("/api/coupons/", a.Messaging)
		mux.Handle("GET /api/profiles/{identifier}/consent", a.Messaging)
		mux.Handle("PUT /api/profiles/{identifier}/consent", a.Messaging)
	}
	if a.Journeys != nil {
		mux.Handle("/api/journeys", a.Journeys)
		mux.Handle("/api/journeys/", a.Journeys)
	}
	if a.Accounts != nil {
		mux.Handle("/api/auth/", a.Accounts)
		mux.Handle("/api/users", a.Accounts)
		mux.Handle("/api/users/", a.Accounts)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, apierr.Errorf(apierr.NotFound, "no admin route %s %s", r.Method, r.URL.Path))
	})
	if a.Guard != nil {
		return a.Guard(mux)
	}
	return a.auth(mux)
}

func (a *API) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(a.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tailor admin"`)
			fail(w, r, apierr.New(apierr.Unauthorized, "admin API needs the header Authorization: Bearer <admin token>"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeJSON and fail answer through the error model every HTTP package
// shares (package apierr): an error that is not an *apierr.Error is the
// server's, logged and answered 500 without its text.
func writeJSON(w http.ResponseWriter, status int, v any) { apierr.WriteJSON(w, status, v) }

func fail(w http.ResponseWriter, r *http.Request, err error) {
	apierr.WriteError(w, r, apierr.Plain, err)
}

// resolveKeys turns a path identifier into the store keys to try: explicit
// "kind:value", a profile id, else userId, anonymousId, email in that order.
func resolveKeys(ident string) []string {
	if strings.HasPrefix(ident, "p_") {
		return []string{ident}
	}
	if id, err := event.ParseIdentifierKey(ident); err == nil {
		return []string{string(id.Kind) + ":" + event.NormalizeIdentifier(id.Kind, id.Value)}
	}
	keys := []string{"user_id:" + ident, "anonymous_id:" + ident}
	if e := event.NormalizeIdentifier(event.KindEmail, ident); e != "" {
		keys = append(keys, "email:"+e)
	}
	if p := event.NormalizeIdentifier(event.KindPhone, ident); p != "" && strings.HasPrefix(ident, "+") {
		keys = append(keys, "phone:"+p)
	}
	return keys
}

func (a *API) lookup(ident string) (profile.Snapshot, bool) {
	for _, k := range resolveKeys(ident) {
		if s, ok := a.Store.Lookup(k); ok {
			return s, true
		}
	}
	return profile.Snapshot{}, false
}

func (a *API) getProfile(w http.ResponseWriter, r *http.Request) {
	ident := r.PathValue("identifier")
	s, ok := a.lookup(ident)
	if !ok {
		fail(w, r, apierr.Errorf(apierr.NotFound, "no profile for %q (tried user_id, anonymous_id, email)", ident))
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (a *API) getMerges(w http.ResponseWriter, r *http.Request) {
	s, ok := a.lookup(r.PathValue("identifier"))
	if !ok {
		fail(w, r, apierr.New(apierr.NotFound, "no such profile"))
		return
	}
	ms, err := a.Merges.Merges(s.ID)
	if err != nil {
		fail(w, r, fmt.Errorf("merges of %s: %w", s.ID, err))
		return
	}
	if ms == nil {
		ms = []profile.Merge{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"merges": ms})
}

func (a *API) getProfileSegments(w http.ResponseWriter, r *http.Request) {
	s, ok := a.lookup(r.PathValue("identifier"))
	if !ok {
		fail(w, r, apierr.New(apierr.NotFound, "no such profile"))
		return
	}
	v, err := a.ProfileSegments(s.ID)
	if err != nil {
		fail(w, r, fmt.Errorf("segments of %s: %w", s.ID, err))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// TimelineEvent is an event as the timeline shows it.
type TimelineEvent struct {
	MessageID   string         `json:"message_id"`
	Type        event.Type     `json:"type"`
	Event       string         `json:"event,omitempty"`
	Name        string         `json:"name,omitempty"`
	UserID      string         `json:"user_id,omitempty"`
	AnonymousID string         `json:"anonymous_id,omitempty"`
	PreviousID  string         `json:"previous_id,omitempty"`
	GroupID     string         `json:"group_id,omitempty"`
	Timestamp   time.Time      `json:"timestamp"`
	ReceivedAt  time.Time      `json:"received_at"`
	SourceID    string         `json:"source_id,omitempty"`
	Properties  map[string]any `json:"properties,omitempty"`
	Traits      map[string]any `json:"traits,omitempty"`
	Context     map[string]any `json:"context,omitempty"`
}

func intParam(r *http.Request, name string, def, max int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s must be a positive integer, got %q", name, s)
	}
	return min(n, max), nil
}

func (a *API) getTimeline(w http.ResponseWriter, r *http.Request) {
	ident := r.PathValue("identifier")
	limit, err := intParam(r, "limit", 50, 1000)
	if err != nil {
		fail(w, r, apierr.New(apierr.BadRequest, err.Error()))
		return
	}
	cursor, err := eventlog.ParseCursor(r.URL.Query().Get("cursor"))
	if err != nil {
		fail(w, r, apierr.New(apierr.BadRequest, "cursor: pass back next_cursor from the previous page"))
		return
	}
	// Events are filed only under their primary identifier (userId, else
	// anonymousId; see event.PrimaryID), so emails and phones are not
	// consulted. The store hands over a bounded number of keys and its lock
	// is released before the log is read.
	var id string
	var keys []string
	total, found := 0, false
	for _, k := range resolveKeys(ident) {
		if id, keys, total, found = a.Store.IdentityKeys(k, eventlog.MaxTimelineIdentifiers, event.KindUserID, event.KindAnonymousID); found {
			break
		}
	}
	if !found {
		fail(w, r, apierr.Errorf(apierr.NotFound, "no profile for %q", ident))
		return
	}
	ptrs, err := a.Events.Timeline(keys, cursor, limit)
	if err != nil {
		fail(w, r, fmt.Errorf("timeline of %s: %w", id, err))
		return
	}
	out := make([]TimelineEvent, 0, len(ptrs))
	for _, p := range ptrs {
		v, err := a.Events.Get(p.Partition, p.Seq)
		if err != nil {
			fail(w, r, fmt.Errorf("timeline entry %d: %w", p.Seq, err))
			return
		}
		e, err := event.DecodeStored(v)
		if err != nil {
			continue
		}
		out = append(out, TimelineEvent{MessageID: e.MessageID, Type: e.Type, Event: e.Event, Name: e.Name,
			UserID: e.UserID, AnonymousID: e.AnonymousID, PreviousID: e.PreviousID, GroupID: e.GroupID,
			Timestamp: e.Timestamp, ReceivedAt: e.ReceivedAt, SourceID: e.SourceID,
			Properties: e.Properties, Traits: e.Traits, Context: e.Context.Map()})
	}
	next := ""
	if len(ptrs) == limit {
		next = ptrs[len(ptrs)-1].Cursor().String()
	}
	// partial says the profile has more identifiers than one query consults:
	// the events of the others are missing from every page.
	writeJSON(w, http.StatusOK, map[string]any{"profile_id": id, "events": out, "next_cursor": next,
		"partial": len(keys) < total, "identifiers_searched": len(keys), "identifiers_total": total})
}

// searchOps are the operators of GET /api/profiles; the store's scan
// knows only the first.
var searchOps = []string{"eq", "prefix", "contains"}

func (a *API) searchProfiles(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	trait, value := q.Get("trait"), q.Get("value")
	if trait == "" {
		fail(w, r, apierr.New(apierr.BadRequest, "search needs ?trait=NAME&value=VALUE"))
		return
	}
	op := q.Get("op")
	if op == "" {
		op = "eq"
	}
	if !slices.Contains(searchOps, op) {
		fail(w, r, apierr.Errorf(apierr.BadRequest, "op: one of %s, got %q", strings.Join(searchOps, ", "), op))
		return
	}
	limit, err := intParam(r, "limit", 50, 1000)
	if err != nil {
		fail(w, r, apierr.New(apierr.BadRequest, err.Error()))
		return
	}
	if a.Search == nil {
		if op != "eq" {
			fail(w, r, apierr.Errorf(apierr.BadRequest, "op: %s needs the segment index, which this server does not search; use op=eq", op))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"profiles": a.Store.Search(trait, value, limit)})
		return
	}
	ids, err := a.Search(trait, op, value, limit)
	if err != nil {
		// What the index refuses (an unknown op, a trait key past its
		// bound) is the request's doing.
		fail(w, r, apierr.New(apierr.BadRequest, fmt.Sprintf("search trait %q: %v", trait, err)))
		return
	}
	out := make([]profile.Snapshot, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		// The index trails the store by the events in flight: a profile
		// merged since is answered once, as the profile it now is.
		s, ok := a.Store.Lookup(id)
		if !ok || seen[s.ID] {
			continue
		}
		seen[s.ID] = true
		out = append(out, s)
	}
	writeJSON(w, http.StatusOK, map[string]any{"profiles": out})
}

func (a *API) listRejected(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit", 100, 1000)
	if err != nil {
		fail(w, r, apierr.New(apierr.BadRequest, err.Error()))
		return
	}
	evs, err := a.Rejected.List(limit)
	if err != nil {
		fail(w, r, fmt.Errorf("list rejected events: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rejected": evs})
}

func (a *API) listSources(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"sources": a.Sources.List()})
}

func (a *API) createSource(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name  string `json:"name"`
		Trust string `json:"trust"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		fail(w, r, apierr.New(apierr.InvalidJSON, `body must be {"name":"...","trust":"server|client"}: `+err.Error()))
		return
	}
	src, err := a.Sources.Create(req.Name, req.Trust)
	if err != nil {
		fail(w, r, apierr.New(apierr.BadRequest, err.Error()))
		return
	}
	writeJSON(w, http.StatusCreated, src)
}

func (a *API) deleteSource(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "default" {
		fail(w, r, apierr.New(apierr.BadRequest, "the default source cannot be deleted; set --write-key to change its key"))
		return
	}
	switch err := a.Sources.Delete(id); {
	case errors.Is(err, ingest.ErrSourceNotFound):
		fail(w, r, apierr.Errorf(apierr.NotFound, "no source %q", id))
	case err != nil:
		fail(w, r, fmt.Errorf("delete source %s: %w", id, err))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
