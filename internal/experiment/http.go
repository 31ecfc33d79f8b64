package experiment

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"tailor/internal/apierr"
)

// MaxBody bounds a request body, in bytes.
const MaxBody = 1 << 20

// HTTP serves /api/experiments over an Engine.
type HTTP struct {
	Engine *Engine
	// Lookup resolves a profile id or an identifier ("user_id:42") to the
	// current profile id, for assign and expose.
	Lookup func(identifier string) (profileID string, ok bool)
}

// Handler returns the routes (patterns include the /api/experiments prefix):
//
//	GET    /api/experiments                 {"experiments":[Info…]}
//	POST   /api/experiments                 create a draft: 201 Info; 409 experiment_exists
//	GET    /api/experiments/{id}            Info
//	PUT    /api/experiments/{id}            update (a running one: name, description, plan only)
//	DELETE /api/experiments/{id}            a draft or stopped one: {"deleted":true}
//	POST   /api/experiments/{id}/start|stop Info
//	GET    /api/experiments/{id}/results    Results
//	POST   /api/experiments/{id}/expose     {"identifier":"user_id:42"}: {"variant":"b"}, exposure logged
func (h *HTTP) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/experiments", h.list)
	mux.HandleFunc("POST /api/experiments", h.create)
	mux.HandleFunc("GET /api/experiments/{id}", h.get)
	mux.HandleFunc("PUT /api/experiments/{id}", h.put)
	mux.HandleFunc("DELETE /api/experiments/{id}", h.delete)
	mux.HandleFunc("POST /api/experiments/{id}/start", h.transition(h.Engine.Start))
	mux.HandleFunc("POST /api/experiments/{id}/stop", h.transition(h.Engine.Stop))
	mux.HandleFunc("GET /api/experiments/{id}/results", h.results)
	mux.HandleFunc("POST /api/experiments/{id}/expose", h.expose)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, apierr.Errorf(apierr.NotFound, "no experiments endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// errorBody is an invalid definition's answer: the error and the field.
type errorBody struct {
	apierr.Body
	Field string `json:"field"`
}

func fail(w http.ResponseWriter, r *http.Request, err error) {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		body, status := apierr.NewBody(apierr.Plain, apierr.New(apierr.InvalidExperiment, ve.Error()))
		apierr.WriteJSON(w, status, errorBody{Body: body, Field: ve.Field})
		return
	case errors.Is(err, ErrNotFound):
		err = apierr.New(apierr.ExperimentNotFound, err.Error())
	case errors.Is(err, ErrExists):
		err = apierr.New(apierr.ExperimentExists, err.Error())
	case errors.Is(err, ErrState), errors.Is(err, ErrNotRunning):
		err = apierr.New(apierr.ExperimentState, err.Error())
	}
	apierr.WriteError(w, r, apierr.Plain, err)
}

// decode reads one JSON object into v, rejecting unknown fields so a typo
// ("weigth") is an error naming it rather than a silent default.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return apierr.DecodeJSON(w, r, MaxBody, v, func(err error) error {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return invalid(strings.TrimPrefix(te.Field, "Experiment."), "want %s, got %s", te.Type, te.Value)
		}
		return invalid("body", "%v", err)
	})
}

// body is what POST and PUT read: an Experiment, with the read-only
// fields of Info accepted and ignored so a GET answer can be sent back.
type body struct {
	Experiment
	Units json.RawMessage `json:"units"`
}

func (h *HTTP) list(w http.ResponseWriter, r *http.Request) {
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"experiments": h.Engine.List()})
}

func (h *HTTP) create(w http.ResponseWriter, r *http.Request) {
	var b body
	if err := decode(w, r, &b); err != nil {
		fail(w, r, err)
		return
	}
	in, err := h.Engine.Create(b.Experiment)
	if err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusCreated, in)
}

func (h *HTTP) get(w http.ResponseWriter, r *http.Request) {
	in, err := h.Engine.Get(r.PathValue("id"))
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
	in, err := h.Engine.Update(r.PathValue("id"), b.Experiment)
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

func (h *HTTP) transition(fn func(string) (Info, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in, err := fn(r.PathValue("id"))
		if err != nil {
			fail(w, r, err)
			return
		}
		apierr.WriteJSON(w, http.StatusOK, in)
	}
}

func (h *HTTP) results(w http.ResponseWriter, r *http.Request) {
	res, err := h.Engine.Results(r.PathValue("id"))
	if err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, res)
}

func (h *HTTP) expose(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Identifier string `json:"identifier"`
	}
	if err := decode(w, r, &b); err != nil {
		fail(w, r, err)
		return
	}
	if b.Identifier == "" {
		fail(w, r, invalid("identifier", "required: a profile id or an identifier such as user_id:42"))
		return
	}
	prof, ok := b.Identifier, true
	if h.Lookup != nil {
		prof, ok = h.Lookup(b.Identifier)
	}
	if !ok {
		fail(w, r, apierr.Errorf(apierr.ProfileNotFound, "no profile for %q", b.Identifier))
		return
	}
	v, err := h.Engine.Expose(r.Context(), r.PathValue("id"), prof)
	if err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"variant": v, "profile": prof})
}
