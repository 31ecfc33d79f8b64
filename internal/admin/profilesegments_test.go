package admin

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"tailor/internal/segment"
)

func TestProfileSegmentsResolvesTheIdentifier(t *testing.T) {
	a := searchServer(t, true)
	var asked []string
	a.ProfileSegments = func(id string) (any, error) {
		asked = append(asked, id)
		return segment.ProfileView{Profile: id, Segments: []segment.SegmentRef{{ID: "pro", Name: "Pro"}}}, nil
	}
	u1, ok := a.lookup("u1")
	if !ok {
		t.Fatal("no profile u1")
	}
	tests := []struct {
		ident   string
		status  int
		profile string // asked of ProfileSegments and answered
	}{
		{"u1", 200, u1.ID},
		{"user_id:u1", 200, u1.ID},
		{u1.ID, 200, u1.ID},
		{"nobody", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.ident, func(t *testing.T) {
			asked = nil
			r := httptest.NewRequest("GET", "/api/profiles/"+tt.ident+"/segments", nil)
			r.Header.Set("Authorization", "Bearer tok")
			w := httptest.NewRecorder()
			a.Handler().ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			var v segment.ProfileView
			if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
				t.Fatalf("%v: %s", err, w.Body)
			}
			if tt.profile == "" {
				if len(asked) != 0 {
					t.Errorf("asked the engine about %v for an unknown identifier", asked)
				}
				return
			}
			if len(asked) != 1 || asked[0] != tt.profile || v.Profile != tt.profile || len(v.Segments) != 1 {
				t.Errorf("asked %v, answered %+v; want %s once", asked, v, tt.profile)
			}
		})
	}
}
