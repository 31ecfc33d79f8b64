package deliver

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// fakeExperiments runs "subj" (variants a and b): p-ann gets b; it counts
// the exposures it would log, once per profile as the engine does.
type fakeExperiments struct {
	running bool
	logged  map[string]int
}

func (f *fakeExperiments) Variants(id string) ([]string, bool, error) {
	if id != "subj" {
		return nil, false, errors.New("experiment not found")
	}
	return []string{"a", "b"}, f.running, nil
}

func (f *fakeExperiments) ExposeOnce(_ context.Context, id, prof string) (string, error) {
	f.logged[prof]++
	return "b", nil
}

func TestSendAPIMessageExperiment(t *testing.T) {
	cases := []struct {
		name    string
		running bool
		body    string
		code    int
		mention string // in the error, or the template sent
		exposed int
	}{
		{"running: the variant's template", true, `{"experiment":"subj","templates":{"a":"welcome","b":"welcome-b"},"profile":"user_id:42"}`, 202, "welcome-b", 1},
		{"not running: control's template", false, `{"experiment":"subj","templates":{"a":"welcome","b":"welcome-b"},"profile":"user_id:42"}`, 202, "welcome", 0},
		{"not running: the request's fallback", false, `{"experiment":"subj","template":"welcome-b","templates":{"a":"welcome","b":"welcome-b"},"profile":"user_id:42"}`, 202, "welcome-b", 0},
		{"unknown experiment", true, `{"experiment":"nope","templates":{"a":"welcome"},"profile":"user_id:42"}`, 404, `no experiment "nope"`, 0},
		{"a variant without template", true, `{"experiment":"subj","templates":{"a":"welcome"},"profile":"user_id:42"}`, 400, `variant "b" of experiment "subj" has no template`, 0},
		{"no templates", true, `{"experiment":"subj","profile":"user_id:42"}`, 400, "a template per variant", 0},
		{"a template of no variant", true, `{"experiment":"subj","templates":{"a":"welcome","b":"welcome","c":"welcome"},"profile":"user_id:42"}`, 400, `"c" is not a variant`, 0},
		{"templates without experiment", true, `{"template":"welcome","templates":{"a":"welcome"},"profile":"user_id:42"}`, 400, "templates needs experiment", 0},
		{"a variant's template does not exist", true, `{"experiment":"subj","templates":{"a":"welcome","b":"gone"},"profile":"user_id:42"}`, 404, `email template "gone"`, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api, h := newHTTP(t)
			api.Template = func(id, ch string) bool { return ch == "email" && (id == "welcome" || id == "welcome-b") }
			fx := &fakeExperiments{running: tc.running, logged: map[string]int{}}
			api.Experiments = fx
			code, m := do(t, api.Admin(), "POST", "/api/send", tc.body, nil)
			if code != tc.code {
				t.Fatalf("%d %v, want %d", code, m, tc.code)
			}
			if code != 202 {
				if msg, _ := m["error"].(string); !strings.Contains(msg, tc.mention) {
					t.Errorf("error %q, want it to name %q", msg, tc.mention)
				}
				if h.q.Depth() != 0 {
					t.Errorf("a refused send was enqueued")
				}
				return
			}
			rec, _, err := h.q.Get(m["key"].(string))
			if err != nil || rec == nil || rec.Template != tc.mention || m["template"] != tc.mention {
				t.Errorf("enqueued %+v (answer %v), want template %s", rec, m, tc.mention)
			}
			if fx.logged["p-ann"] != tc.exposed {
				t.Errorf("%d exposures, want %d", fx.logged["p-ann"], tc.exposed)
			}
		})
	}
}

func TestSendAPIRefusesExperimentsWithoutTheEngine(t *testing.T) {
	api, _ := newHTTP(t)
	code, m := do(t, api.Admin(), "POST", "/api/send", `{"experiment":"subj","templates":{"a":"welcome"},"profile":"user_id:42"}`, nil)
	if msg, _ := m["error"].(string); code != 400 || !strings.Contains(msg, "runs no experiments") {
		t.Errorf("%d %v, want 400 saying the server runs no experiments", code, m)
	}
}
