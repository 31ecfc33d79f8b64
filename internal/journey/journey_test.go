package journey

import (
	"errors"
	"testing"

	"tailor/internal/segment"
)

func TestValidateNamesTheOffendingField(t *testing.T) {
	segs := func(id string) bool { return id == "vip" }
	tests := []struct {
		name   string
		change func(j *Journey)
		path   string // "" means valid
	}{
		{"the cart journey is valid", func(j *Journey) {}, ""},
		{"bad id", func(j *Journey) { j.ID = "Cart!" }, "/id"},
		{"no name", func(j *Journey) { j.Name = "" }, "/name"},
		{"unknown status", func(j *Journey) { j.Status = "running" }, "/status"},
		{"unknown trigger", func(j *Journey) { j.Trigger.Type = "webhook" }, "/trigger/type"},
		{"event trigger without event", func(j *Journey) { j.Trigger.Event = "" }, "/trigger/event"},
		{"trigger filter with a bad op", func(j *Journey) {
			j.Trigger.Where = []*segment.Filter{{Property: "price", Op: "bigger", Value: 1.0}}
		}, "/trigger/where/0/op"},
		{"segment trigger on an unknown segment", func(j *Journey) { j.Trigger = Trigger{Type: TriggerSegmentEntered, Segment: "nope"} }, "/trigger/segment"},
		{"segment trigger", func(j *Journey) { j.Trigger = Trigger{Type: TriggerSegmentEntered, Segment: "vip"} }, ""},
		{"schedule without a time", func(j *Journey) { j.Trigger = Trigger{Type: TriggerSchedule, Segment: "vip"} }, "/trigger/at"},
		{"schedule repeating too often", func(j *Journey) {
			j.Trigger = Trigger{Type: TriggerSchedule, Segment: "vip", At: "2026-12-01T09:00:00Z", Every: "5m"}
		}, "/trigger/every"},
		{"once_per without a period", func(j *Journey) { j.Entry = Entry{Rule: EntryOncePer} }, "/entry/period"},
		{"unknown entry rule", func(j *Journey) { j.Entry.Rule = "always" }, "/entry/rule"},
		{"goal without window", func(j *Journey) { j.Goal.Within = "" }, "/goal/within"},
		{"holdout over 100", func(j *Journey) { j.Holdout = 120 }, "/holdout"},
		{"start names no step", func(j *Journey) { j.Start = "nope" }, "/start"},
		{"next names no step", func(j *Journey) { j.Steps[0].Next = "nope" }, "/steps/0/next"},
		{"duplicate step id", func(j *Journey) { j.Steps[1].ID = "wait1" }, "/steps/1/id"},
		{"bad wait", func(j *Journey) { j.Steps[0].Duration = "soon" }, "/steps/0/duration"},
		{"wait too long", func(j *Journey) { j.Steps[0].Duration = "400d" }, "/steps/0/duration"},
		{"unknown channel", func(j *Journey) { j.Steps[1].Channel = "fax" }, "/steps/1/channel"},
		{"send without template", func(j *Journey) { j.Steps[1].Template = "" }, "/steps/1/template"},
		{"unknown step type", func(j *Journey) { j.Steps[3].Type = "sleep" }, "/steps/3/type"},
		{"bad time of day", func(j *Journey) { j.Steps[2] = &Step{ID: "wait2", Type: StepWaitUntil, Time: "25:00", Next: "email2"} }, "/steps/2/time"},
		{"wait_event without timeout", func(j *Journey) {
			j.Steps[2] = &Step{ID: "wait2", Type: StepWaitEvent, Event: "App Opened", Next: "email2"}
		}, "/steps/2/timeout"},
		{"branch rule invalid", func(j *Journey) {
			j.Steps[2] = &Step{ID: "wait2", Type: StepBranch, Rule: &segment.Rule{Trait: "plan", Op: "like"}, Next: "email2"}
		}, "/steps/2/rule/op"},
		{"branch on an unknown segment", func(j *Journey) {
			j.Steps[2] = &Step{ID: "wait2", Type: StepBranch, Rule: &segment.Rule{Segment: "nope"}, Next: "email2"}
		}, "/steps/2/rule"},
		{"split not adding to 100", func(j *Journey) {
			j.Steps[2] = &Step{ID: "wait2", Type: StepSplit, Paths: []SplitPath{{50, "email2"}, {40, "email1"}}}
		}, "/steps/2/paths"},
		{"split to no step", func(j *Journey) {
			j.Steps[2] = &Step{ID: "wait2", Type: StepSplit, Paths: []SplitPath{{50, "email2"}, {50, "x"}}}
		}, "/steps/2/paths/1/next"},
		{"update_trait without traits", func(j *Journey) { j.Steps[2] = &Step{ID: "wait2", Type: StepUpdateTrait} }, "/steps/2/traits"},
		{"exit with next", func(j *Journey) { j.Steps[3] = &Step{ID: "email2", Type: StepExit, Next: "wait1"} }, "/steps/3/next"},
		{"no steps", func(j *Journey) { j.Steps = nil }, "/steps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := cart()
			tt.change(&j)
			err := j.Validate(segs)
			var ve *ValidationError
			switch {
			case tt.path == "" && err != nil:
				t.Fatalf("valid journey refused: %v", err)
			case tt.path != "" && !errors.As(err, &ve):
				t.Fatalf("err = %v, want a ValidationError at %s", err, tt.path)
			case tt.path != "" && ve.Path != tt.path:
				t.Fatalf("path = %q (%v), want %q", ve.Path, err, tt.path)
			}
		})
	}
}
