package server

import (
	"context"

	"tailor/internal/deliver"
	"tailor/internal/message"
)

// Delivery renders with the message engine and asks consent: the adapter
// below converts deliver's render request and answer to message's.

// messageRenderer renders delivery's sends with the Liquid templates.
type messageRenderer struct{ m *message.Engine }

func (r messageRenderer) Render(ctx context.Context, req deliver.RenderRequest) (deliver.Rendered, error) {
	x, err := r.m.Render(ctx, message.RenderRequest(req))
	if err != nil {
		return deliver.Rendered{}, err
	}
	return deliver.Rendered{Channel: x.Channel, To: x.To, Subject: x.Subject, HTML: x.HTML, Text: x.Text,
		Title: x.Title, Body: x.Body, URL: x.URL, Headers: x.Headers, JSON: x.JSON}, nil
}

// wireMessaging gives delivery the message engine and consent, once both
// are open.
func (s *Server) wireMessaging() {
	if s.Messages == nil {
		return
	}
	s.SetRenderer(messageRenderer{s.Messages}, func(id, channel string) bool {
		t, err := s.Messages.Templates.Get(id, 0)
		return err == nil && t.Channel == channel
	})
	if s.Consent != nil {
		s.SetConsent(s.Consent)
	}
}
