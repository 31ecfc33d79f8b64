package server

import (
	"errors"
	"net/http"

	"tailor/internal/apierr"
	"tailor/internal/segment"
)

// predictionRoutes serves the predictions page's API (the segment engine
// fits and keeps the predictions; see internal/segment/predictions.go):
//
//	GET  /api/predictions          segment.PredictionReport for the current snapshot
//	POST /api/predictions/refresh  refit now: {"fit": Predictions}; 409 not_enough_data
//	                               when there are too few customers (admin: it costs a fit)
func (s *Server) predictionRoutes(mux *http.ServeMux, guard func(http.Handler) http.Handler) {
	mux.Handle("GET /api/predictions", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apierr.WriteJSON(w, http.StatusOK, s.Segments.PredictionReport())
	})))
	mux.Handle("POST /api/predictions/refresh", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.Segments.RefitPredictions()
		if errors.Is(err, segment.ErrNoPredictions) {
			apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.NotEnoughData, err.Error()))
			return
		}
		if err != nil {
			apierr.WriteError(w, r, apierr.Plain, err)
			return
		}
		apierr.WriteJSON(w, http.StatusOK, map[string]any{"fit": p})
	})))
	for _, p := range []string{"/api/predictions", "/api/predictions/refresh"} {
		mux.Handle(p, guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.MethodNotAllowed, "%s %s: see the API doc of /api/predictions", r.Method, r.URL.Path))
		})))
	}
}
