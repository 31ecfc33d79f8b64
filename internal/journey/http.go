package journey

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tailor/internal/apierr"
)

// MaxBody bounds a request body, in bytes.
const MaxBody = 1 << 20

// HTTP serves /api/journeys over an Engine.
type HTTP struct {
	Engine *Engine
	// Lookup resolves a profile id or an identifier ("user_id:42",
	// "email:a@b.c") to the current profile id.
	Lookup func(identifier string) (profileID string, ok bool)
	// DryRun runs journey j over the log's last days (nil: 404).
	DryRun func(ctx context.Context, j *Journey, days int) (*DryRunResult, error)
}

// Handler returns the routes (patterns include the /api/journeys prefix):
//
//	GET    /api/journeys                     {"journeys":[Info…]}
//	POST   /api/journeys                     create: 201 Info; 409 journey_exists
//	GET    /api/journeys/{id}                Info (?version=N for an older one)
//	PUT    /api/journeys/{id}                a new version: 200 Info
//	DELETE /api/journeys/{id}                a draft only: {"deleted":true}
//	POST   /api/journeys/{id}/publish|pause|resume|archive   Info
//	POST   /api/journeys/{id}/trigger        {"identifier":"user_id:42","data":{…}}: 202
//	GET    /api/journeys/{id}/stats          JourneyStats
//	POST   /api/journeys/{id}/dry-run        {"days":7}: DryRunResult
func (h *HTTP) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/journeys", h.list)
	mux.HandleFunc("POST /api/journeys", h.create)
	mux.HandleFunc("GET /api/journeys/{id}", h.get)
	mux.HandleFunc("PUT /api/journeys/{id}", h.put)
	mux.HandleFunc("DELETE /api/journeys/{id}", h.delete)
	for _, a := range []string{ActionPublish, ActionPause, ActionResume, ActionArchive} {
		mux.HandleFunc("POST /api/journeys/{id}/"+a, h.status(a))
	}
	mux.HandleFunc("POST /api/journeys/{id}/trigger", h.trigger)
	mux.HandleFunc("GET /api/journeys/{id}/stats", h.stats)
	mux.HandleFunc("POST /api/journeys/{id}/dry-run", h.dryRun)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, apierr.Errorf(apierr.NotFound, "no journeys endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// errorBody is an invalid definition's answer: the error and the JSON
// Pointer of the offending field.
type errorBody struct {
	apierr.Body
	Path string `json:"path"`
}

func fail(w http.ResponseWriter, r *http.Request, err error) {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		msg := ve.Msg
		if ve.Path != "" {
			msg = ve.Path + ": " + msg
		}
		body, status := apierr.NewBody(apierr.Plain, apierr.New(apierr.InvalidJourney, msg))
		apierr.WriteJSON(w, status, errorBody{Body: body, Path: ve.Path})
		return
	case errors.Is(err, ErrNotFound):
		err = apierr.New(apierr.JourneyNotFound, err.Error())
	case errors.Is(err, ErrExists):
		err = apierr.New(apierr.JourneyExists, "")
	case errors.Is(err, ErrState):
		err = apierr.New(apierr.JourneyState, err.Error())
	}
	apierr.WriteError(w, r, apierr.Plain, err)
}

// body is what POST and PUT read: a Journey, and the read-only fields of
// Info accepted and ignored so that a GET answer can be sent back.
type body struct {
	Journey
	Versions  json.RawMessage `json:"versions"`
	Active    json.RawMessage `json:"active"`
	Entered   json.RawMessage `json:"entered"`
	Converted json.RawMessage `json:"converted"`
	Revenue   json.RawMessage `json:"revenue"`
	HeldOut   json.RawMessage `json:"held_out"`
}

func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return apierr.DecodeJSON(w, r, MaxBody, v, func(err error) error {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// The body embeds Journey, whose name encoding/json puts first.
			field := strings.TrimPrefix(te.Field, "Journey.")
			return &ValidationError{Path: "/" + strings.ReplaceAll(field, ".", "/"), Msg: "want " + te.Type.String() + ", got " + te.Value}
		}
		return &ValidationError{Msg: err.Error()}
	})
}

func (h *HTTP) list(w http.ResponseWriter, r *http.Request) {
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"journeys": h.Engine.List()})
}

func (h *HTTP) create(w http.ResponseWriter, r *http.Request) {
	var b body
	if err := decode(w, r, &b); err != nil {
		fail(w, r, err)
		return
	}
	in, err := h.Engine.Create(b.Journey)
	if err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusCreated, in)
}

func (h *HTTP) get(w http.ResponseWriter, r *http.Request) {
	v := 0
	if s := r.URL.Query().Get("version"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fail(w, r, apierr.Errorf(apierr.BadRequest, "version %q: want a positive integer", s))
			return
		}
		v = n
	}
	in, err := h.Engine.Get(r.PathValue("id"), v)
	if err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, in)
}

func (h *HTTP) put(w http.ResponseWriter, r *http.Request) {
	var b body
	if err := decode(w, r, &b); err != nil {
		fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	if b.ID == "" {
		b.ID = id
	}
	if b.ID != id {
		fail(w, r, &ValidationError{Path: "/id", Msg: "the body's id " + strconv.Quote(b.ID) + " is not the path's " + strconv.Quote(id)})
		return
	}
	in, err := h.Engine.Replace(b.Journey)
	if err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, in)
}

func (h *HTTP) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := h.Engine.Delete(id); err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"deleted": true, "id": id})
}

func (h *HTTP) status(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in, err := h.Engine.SetStatus(r.PathValue("id"), action)
		if err != nil {
			fail(w, r, err)
			return
		}
		apierr.WriteJSON(w, http.StatusOK, in)
	}
}

func (h *HTTP) trigger(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Identifier string         `json:"identifier"`
		Data       map[string]any `json:"data"`
		// Key makes the trigger idempotent: the same key twice enters once.
		Key string `json:"key"`
	}
	if err := decode(w, r, &b); err != nil {
		fail(w, r, err)
		return
	}
	if b.Identifier == "" {
		fail(w, r, &ValidationError{Path: "/identifier", Msg: `name the profile: a profile id or an identifier such as "user_id:42"`})
		return
	}
	prof := b.Identifier
	if h.Lookup != nil {
		p, ok := h.Lookup(b.Identifier)
		if !ok {
			fail(w, r, apierr.Errorf(apierr.NotFound, "no profile %q", b.Identifier))
			return
		}
		prof = p
	}
	if err := h.Engine.Trigger(r.Context(), r.PathValue("id"), prof, b.Data, b.Key); err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusAccepted, map[string]any{"journey": r.PathValue("id"), "profile": prof})
}

func (h *HTTP) stats(w http.ResponseWriter, r *http.Request) {
	st, err := h.Engine.Stats(r.PathValue("id"))
	if err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, st)
}

// MaxDryRunDays bounds a dry run's look back.
const MaxDryRunDays = 90

func (h *HTTP) dryRun(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Days int `json:"days"`
	}
	if err := decode(w, r, &b); err != nil {
		fail(w, r, err)
		return
	}
	if b.Days < 1 || b.Days > MaxDryRunDays {
		fail(w, r, &ValidationError{Path: "/days", Msg: "days from 1 to " + strconv.Itoa(MaxDryRunDays)})
		return
	}
	in, err := h.Engine.Get(r.PathValue("id"), 0)
	if err != nil {
		fail(w, r, err)
		return
	}
	if h.DryRun == nil {
		fail(w, r, apierr.New(apierr.NotFound, "dry runs are not available on this server"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 50*time.Second)
	defer cancel()
	res, err := h.DryRun(ctx, &in.Journey, b.Days)
	if err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, res)
}
