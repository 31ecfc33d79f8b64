package deliver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
)

// Push sends mobile push notifications through an FCM HTTP v1-compatible
// API: a JSON POST of {"message":{"token","notification":{title,body},
// "data":{...}}} to URL (…/v1/projects/<project>/messages:send) with a
// bearer token, answered with the message's name.
type Push struct {
	URL    string
	Token  string // OAuth 2 access token of the service account
	Client *http.Client
}

// Send implements Adapter.
func (p *Push) Send(ctx context.Context, env Envelope) (Receipt, error) {
	if env.To == "" {
		return Receipt{}, Permanent(errors.New("push: the profile has no push token"))
	}
	data := map[string]string{"message_key": env.Key}
	if env.URL != "" {
		data["url"] = env.URL
	}
	body, err := json.Marshal(map[string]any{"message": map[string]any{
		"token":        env.To,
		"notification": map[string]string{"title": env.Title, "body": env.Body},
		"data":         data,
	}})
	if err != nil {
		return Receipt{}, Permanent(err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+p.Token)
	h.Set(HeaderIdemKey, IdempotencyKey(env.Key))
	b, err := post(ctx, p.Client, "push", p.URL, "application/json", body, h)
	if err != nil {
		return Receipt{}, err
	}
	var ans struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(b, &ans)
	return Receipt{ProviderID: ans.Name}, nil
}

func basic(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}
