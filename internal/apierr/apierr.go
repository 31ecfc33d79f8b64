// Package apierr owns the error model of Tailor's HTTP APIs (the Tracking API
// in ingest, the admin API and the catalog): the table of error codes with
// their HTTP status and default text, the Error value handlers return, and the
// one pair of writers every answer goes through.
//
// What must stay true: a code's status comes from the table only, so a code
// always means the same status to clients; and an error that is not an *Error
// is internal, answered 500 with code "internal" and a generic text (its own
// text may name files, keys or peers, so it goes to the log, never the client).
package apierr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
)

// Code is a machine-readable error code, stable across releases: clients
// branch on it, people read the text.
type Code string

// The error codes. Each has one row in table.
const (
	BadRequest       Code = "bad_request"        // a query parameter or path value is wrong
	InvalidJSON      Code = "invalid_json"       // the body is not well-formed JSON
	InvalidMessage   Code = "invalid_message"    // a Tracking API message breaks the spec
	InvalidProduct   Code = "invalid_product"    // a catalog product breaks the catalog's rules
	InvalidRule      Code = "invalid_rule"       // a segment or its rule tree is not valid; the answer names the path
	NoBatch          Code = "no_batch"           // a batch body without {"batch":[...]}
	BadGzip          Code = "bad_gzip"           // Content-Encoding gzip, body is not gzip
	BadBody          Code = "bad_body"           // the body could not be read
	Unauthorized     Code = "unauthorized"       // admin API without its token
	NoWriteKey       Code = "no_write_key"       // Tracking API without a write key
	BadWriteKey      Code = "bad_write_key"      // Tracking API with an unknown write key
	NotFound         Code = "not_found"          // no such route or resource
	SegmentNotFound  Code = "segment_not_found"  // no saved segment with that id
	SegmentExists    Code = "segment_exists"     // creating a segment whose id is taken
	SegmentInUse     Code = "segment_in_use"     // deleting a segment other segments refer to
	MethodNotAllowed Code = "method_not_allowed" // the route exists for other methods
	BodyTimeout      Code = "body_timeout"       // the body did not arrive within the read deadline
	TooLarge         Code = "too_large"          // the body is over its size limit
	BadEncoding      Code = "bad_encoding"       // an unsupported Content-Encoding
	Busy             Code = "busy"               // a bounded resource is full; retry later
	ShuttingDown     Code = "shutting_down"      // the server is stopping; retry
	Internal         Code = "internal"           // a fault of the server, never of the request

	// Dashboard accounts (package auth).
	InvalidCredentials Code = "invalid_credentials" // login with a wrong email or password
	RateLimited        Code = "rate_limited"        // too many failed logins; the answer carries Retry-After
	CSRF               Code = "csrf"                // a cookie-authenticated write without the session's X-CSRF-Token
	Forbidden          Code = "forbidden"           // the account's role is below the route's; the text names the role needed
	UserExists         Code = "user_exists"         // creating an account whose email is taken
	LastAdmin          Code = "last_admin"          // removing (or demoting) the only admin account

	// Messages, consent and coupons (packages message, consent, coupon).
	InvalidTemplate  Code = "invalid_template"   // a template does not parse or lacks a part; the answer names the field and position
	TemplateNotFound Code = "template_not_found" // no template with that id (or version)
	TemplateExists   Code = "template_exists"    // creating a template whose id is taken
	RenderFailed     Code = "render_failed"      // a template parsed but failed to render for this profile (runtime error, empty coupon pool)
	ProfileNotFound  Code = "profile_not_found"  // no profile with that identifier
	// Journeys (package journey).
	InvalidJourney  Code = "invalid_journey"   // a journey definition is not valid; the answer names the path
	JourneyNotFound Code = "journey_not_found" // no journey with that id
	JourneyExists   Code = "journey_exists"    // creating a journey whose id is taken
	JourneyState    Code = "journey_state"     // the journey's status does not allow the action
	// Placements and the decision API (package decide).
	InvalidPlacement  Code = "invalid_placement"   // a placement or the geo table is not valid; the answer names the field
	PlacementNotFound Code = "placement_not_found" // no placement with that id
	PlacementExists   Code = "placement_exists"    // creating a placement whose id is taken
	BadToken          Code = "bad_token"           // a tracking token that is malformed or not signed by this server
)

// Experiments (package experiment).
const (
	InvalidExperiment  Code = "invalid_experiment"   // an experiment definition is not valid; the answer names the field
	ExperimentNotFound Code = "experiment_not_found" // no experiment with that id
	ExperimentExists   Code = "experiment_exists"    // creating an experiment whose id is taken
	ExperimentState    Code = "experiment_state"     // the experiment's status does not allow the action
	// Predictions (package segment, predictions.go).
	NotEnoughData Code = "not_enough_data" // a prediction fit asked for on too few customers; the text says how many it needs
)

type row struct {
	status int
	text   string // answered when an Error carries no text of its own
}

// table is the one place a code gets its HTTP status.
var table = map[Code]row{
	BadRequest:       {http.StatusBadRequest, "bad request"},
	InvalidJSON:      {http.StatusBadRequest, "body is not valid JSON"},
	InvalidMessage:   {http.StatusBadRequest, "message is not valid"},
	InvalidProduct:   {http.StatusBadRequest, "product is not valid"},
	InvalidRule:      {http.StatusBadRequest, "segment rule is not valid"},
	NoBatch:          {http.StatusBadRequest, `body must be {"batch":[...messages]}`},
	BadGzip:          {http.StatusBadRequest, "body is not valid gzip"},
	BadBody:          {http.StatusBadRequest, "the request body could not be read"},
	Unauthorized:     {http.StatusUnauthorized, "missing or wrong credentials"},
	NoWriteKey:       {http.StatusUnauthorized, "missing write key: send it as the HTTP Basic user name (or writeKey in the body)"},
	BadWriteKey:      {http.StatusUnauthorized, "unknown write key"},
	NotFound:         {http.StatusNotFound, "not found"},
	SegmentNotFound:  {http.StatusNotFound, "no such segment"},
	SegmentExists:    {http.StatusConflict, "a segment with this id exists; PUT replaces it"},
	SegmentInUse:     {http.StatusConflict, "other segments refer to this segment; change them first"},
	MethodNotAllowed: {http.StatusMethodNotAllowed, "method not allowed"},
	BodyTimeout:      {http.StatusRequestTimeout, "the request body did not arrive in time; send it faster or in smaller parts"},
	TooLarge:         {http.StatusRequestEntityTooLarge, "body is over the size limit"},
	BadEncoding:      {http.StatusUnsupportedMediaType, "Content-Encoding is not supported; send gzip or none"},
	Busy:             {http.StatusServiceUnavailable, "server is busy; retry in a moment"},
	ShuttingDown:     {http.StatusServiceUnavailable, "server is shutting down; retry"},
	Internal:         {http.StatusInternalServerError, "internal error"},

	InvalidCredentials: {http.StatusUnauthorized, "wrong email or password"},
	RateLimited:        {http.StatusTooManyRequests, "too many failed logins; wait and try again"},
	CSRF:               {http.StatusForbidden, "missing or wrong X-CSRF-Token header: send the value of the tailor_csrf cookie"},
	Forbidden:          {http.StatusForbidden, "your role does not allow this"},
	UserExists:         {http.StatusConflict, "an account with this email exists"},
	LastAdmin:          {http.StatusConflict, "this is the only admin account; make another admin first"},

	InvalidTemplate:  {http.StatusBadRequest, "template is not valid"},
	TemplateNotFound: {http.StatusNotFound, "no such template"},
	TemplateExists:   {http.StatusConflict, "a template with this id exists; PUT replaces it"},
	RenderFailed:     {http.StatusUnprocessableEntity, "the template failed to render"},
	ProfileNotFound:  {http.StatusNotFound, "no such profile"},
	InvalidJourney:   {http.StatusBadRequest, "journey is not valid"},
	JourneyNotFound:  {http.StatusNotFound, "no such journey"},
	JourneyExists:    {http.StatusConflict, "a journey with this id exists; PUT makes a new version"},
	JourneyState:     {http.StatusConflict, "the journey's status does not allow this"},

	// Experiments.
	InvalidExperiment:  {http.StatusBadRequest, "experiment is not valid"},
	ExperimentNotFound: {http.StatusNotFound, "no such experiment"},
	ExperimentExists:   {http.StatusConflict, "an experiment with this id exists"},
	ExperimentState:    {http.StatusConflict, "the experiment's status does not allow this"},
	// Placements.
	InvalidPlacement:  {http.StatusBadRequest, "placement is not valid"},
	PlacementNotFound: {http.StatusNotFound, "no such placement"},
	PlacementExists:   {http.StatusConflict, "a placement with this id exists; PUT replaces it"},
	BadToken:          {http.StatusBadRequest, "tracking token is not valid"},
	NotEnoughData:     {http.StatusConflict, "not enough customers with orders to fit the predictions"},
}

// Status returns the HTTP status of code; an unknown code is internal.
func (c Code) Status() int {
	if r, ok := table[c]; ok {
		return r.status
	}
	return http.StatusInternalServerError
}

// Text returns the default text of code.
func (c Code) Text() string {
	if r, ok := table[c]; ok {
		return r.text
	}
	return table[Internal].text
}

// Error is a failure that the client caused or can act on: its Code selects
// the status, its Msg is shown to the client as it is.
type Error struct {
	Code Code
	Msg  string // empty means Code's default text
}

func (e *Error) Error() string {
	if e.Msg == "" {
		return e.Code.Text()
	}
	return e.Msg
}

// Status is the HTTP status of e.
func (e *Error) Status() int { return e.Code.Status() }

// New returns an error with code and msg (empty for the default text).
func New(code Code, msg string) *Error { return &Error{Code: code, Msg: msg} }

// Errorf returns an error with code and a formatted text.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Shape is the JSON shape of an error answer.
type Shape uint8

const (
	// Plain is {"error":"...","code":"..."}: the admin API and the catalog.
	Plain Shape = iota
	// Tracking is {"success":false,"error":"...","code":"..."}: the Tracking
	// API, in the shape Segment's SDKs expect.
	Tracking
)

// Body is the JSON of an error answer. Handlers that add fields to an error
// answer (a rejected batch lists its rejections) embed it.
type Body struct {
	Success *bool  `json:"success,omitempty"`
	Error   string `json:"error"`
	Code    Code   `json:"code"`
}

var falseVal = false

// NewBody returns the answer to err in shape and its status. err is
// classified as WriteError does, without logging.
func NewBody(shape Shape, err error) (Body, int) {
	var ae *Error
	if !errors.As(err, &ae) {
		ae = &Error{Code: Internal}
	}
	b := Body{Error: ae.Error(), Code: ae.Code}
	if !ae.Code.known() {
		b.Code, b.Error = Internal, Internal.Text()
	}
	if shape == Tracking {
		b.Success = &falseVal
	}
	return b, b.Code.Status()
}

func (c Code) known() bool { _, ok := table[c]; return ok }

// WriteError answers err in shape and returns the status written. An *Error
// (also wrapped) is answered with its code's status and its text. Any other
// error is a fault of the server: it is logged with the request's method and
// path and answered 500 with code "internal" and a generic text.
func WriteError(w http.ResponseWriter, r *http.Request, shape Shape, err error) int {
	body, status := NewBody(shape, err)
	if status == http.StatusInternalServerError {
		if r.Context().Err() != nil {
			// The client went away, which is what failed; nobody reads
			// the answer and it is not a server fault.
			slog.Debug("request ended by the client", "method", r.Method, "path", r.URL.Path, "err", err)
		} else {
			slog.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}
	WriteJSON(w, status, body)
	return status
}

// maxPooled keeps a rare large answer (a page of a thousand products) from
// pinning its buffer in the pool.
const maxPooled = 64 << 10

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// WriteJSON answers v with status. v is encoded before anything is written, so
// a value JSON cannot carry turns into a clean 500, not half an answer. HTML
// escaping is off so that text reads as written ("must be >= 0").
func WriteJSON(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooled {
			bufPool.Put(buf)
		}
	}()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		slog.Error("encoding an answer failed", "type", fmt.Sprintf("%T", v), "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"internal error","code":"internal"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
