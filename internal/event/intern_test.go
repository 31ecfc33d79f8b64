package event

import (
	"fmt"
	"sync"
	"testing"
)

// TestInternedValuesUnderChurn decodes, from several goroutines at once,
// many more distinct values of cached keys than the cache has slots, so
// slots are replaced while others read them: every event must still get
// exactly its own values.
func TestInternedValuesUnderChurn(t *testing.T) {
	const workers, perWorker = 4, 3 * internSlots
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				// Half the values repeat across workers, half are unique.
				shared := fmt.Sprintf("tz-%d", i%(internSlots/2))
				own := fmt.Sprintf("loc-%d-%d", w, i)
				raw := fmt.Sprintf(`{"type":"page","anonymousId":"a","messageId":"m","context":{"timezone":%q,"locale":%q,"library":{"version":%q}},"properties":{"currency":"USD"}}`, shared, own, own)
				e, err := Decode([]byte(raw), Meta{ReceivedAt: recv})
				if err != nil {
					errs <- err
					return
				}
				ctx := e.Context.Map()
				lib, _ := ctx["library"].(map[string]any)
				if e.Context.Timezone != shared || e.Context.Locale != own || ctx["locale"] != own || lib["version"] != own || e.Properties["currency"] != "USD" {
					errs <- fmt.Errorf("%s: decoded context %v %+v, properties %v", raw, ctx, e.Context, e.Properties)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestInternStringKeepsOddValues(t *testing.T) {
	long := make([]byte, maxInternLen+1)
	for i := range long {
		long[i] = 'x'
	}
	tests := []struct {
		name, raw, want string
	}{
		{"invalid UTF-8 replaced as without the cache", "{\"locale\":\"fr\xff\xfeFR\"}", "fr\uFFFDFR"},
		{"escapes unescaped", `{"locale":"fr\u002dFR"}`, "fr-FR"},
		{"empty", `{"locale":""}`, ""},
		{"longer than the cache takes", `{"locale":"` + string(long) + `"}`, string(long)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second time from the cache, if cached
				e, err := Decode([]byte(`{"type":"page","anonymousId":"a","messageId":"m","context":`+tt.raw+`}`), Meta{ReceivedAt: recv})
				if err != nil {
					t.Fatal(err)
				}
				if got := e.Context.Locale; got != tt.want {
					t.Fatalf("locale = %q, want %q", got, tt.want)
				}
			}
		})
	}
}
