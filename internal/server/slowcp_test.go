package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"tailor/internal/processor"
)

// A checkpoint that paused the processor slowCheckpoint or more is logged
// with every part of its pause; a usual one is not.
func TestLogSlowCheckpoint(t *testing.T) {
	parts := []processor.Part{{Name: "wait", Took: 12 * time.Millisecond}, {Name: "profiles", Took: 230 * time.Millisecond},
		{Name: "segments", Took: 40 * time.Millisecond}}
	tests := []struct {
		pause time.Duration
		want  []string // in the log line; none: no line
	}{
		{90 * time.Millisecond, nil},
		{slowCheckpoint - time.Millisecond, nil},
		{282 * time.Millisecond, []string{"slow checkpoint", "pause=282ms", "wait=12ms", "profiles=230ms", "segments=40ms", "bytes=1000"}},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		logSlowCheckpoint(slog.New(slog.NewTextHandler(&buf, nil)), processor.CheckpointStats{Pause: tt.pause, Total: 2 * tt.pause, Bytes: 1000, Parts: parts})
		line := buf.String()
		if tt.want == nil {
			if line != "" {
				t.Errorf("pause %v logged %q", tt.pause, line)
			}
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(line, w) {
				t.Errorf("pause %v: the line %q lacks %q", tt.pause, line, w)
			}
		}
	}
}
