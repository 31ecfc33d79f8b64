package message

// ConfirmTemplateID is the id of the double opt-in confirmation template
// (consent.DefaultConfirmTemplate).
const ConfirmTemplateID = "confirm-subscription"

// ConfirmTemplate is the built-in double opt-in confirmation email: a
// server started with double opt-in saves it when no template of its id
// exists, and an editor may change it like any other (it must keep
// {{ confirm_url }}, the signed link that grants the consent).
func ConfirmTemplate() Template {
	return Template{ID: ConfirmTemplateID, Name: "Confirm your subscription (double opt-in)", Channel: "email",
		Defaults: map[string]any{"first_name": "there"},
		Parts: Parts{
			Subject: "Please confirm your subscription",
			HTML: `<html><body><p>Hi {{ profile.traits.first_name }},</p>
<p>Please confirm that you want to get our emails:</p>
<p><a href="{{ confirm_url }}">Yes, subscribe me</a></p>
<p style="color:#666;font-size:12px">If you did not ask for this, ignore this email: you will get nothing more from us.</p></body></html>`,
			Text: "Hi {{ profile.traits.first_name }},\n\nPlease confirm that you want to get our emails: {{ confirm_url }}\n\nIf you did not ask for this, ignore this email: you will get nothing more from us.",
		}}
}
