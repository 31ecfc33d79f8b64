package deliver

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"tailor/internal/outbox"
)

// Event is a delivery event recorded back on the profile (Message Sent,
// Message Deferred …). MessageID derives from the message key, so the same
// decision recorded twice (a resend after a crash) is de-duplicated by the
// log.
type Event struct {
	Name       string
	Profile    string
	MessageID  string
	At         time.Time
	Properties map[string]any
}

// Event names, shared with the journey engine and the dashboard.
const (
	EventSent       = "Message Sent"
	EventDelivered  = "Message Delivered"
	EventBounced    = "Message Bounced"
	EventFailed     = "Message Failed"
	EventDeferred   = "Message Deferred"
	EventSuppressed = "Message Suppressed"
)

// Options configure an Engine; zero fields take the defaults stated.
type Options struct {
	Queue    outbox.Queue
	Policy   *Policy
	Pacer    *Pacer
	Renderer Renderer
	Adapters map[string]Adapter // by channel
	// Record appends delivery events to the log (durably). Nil drops them.
	Record func(ctx context.Context, evs []Event) error
	// RecordSyncsQueue says that Record's durable write also makes the
	// queue's earlier writes durable (the server's log and outbox share
	// one Pebble WAL): a sent message is then marked with one sync, its
	// Sent event's, and the event cannot be lost to a crash.
	RecordSyncsQueue bool
	BaseURL          string
	Metrics          *Metrics // nil: not measured

	Workers     int           // default 8
	Batch       int           // messages a worker claims at once; default 16
	Poll        time.Duration // longest idle wait between claims; default 250ms
	MaxAttempts int           // sends tried before a temporary failure fails the message; default 6
	Backoff     time.Duration // first retry's delay, doubled each attempt, ±20% jitter; default 2s
	MaxBackoff  time.Duration // default 10m
	// PaceHold is the longest a worker waits for its adapter's pace; a
	// longer wait reschedules the message. Default 1s.
	PaceHold time.Duration
	Now      func() time.Time
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Batch <= 0 {
		o.Batch = 16
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
	if o.Backoff <= 0 {
		o.Backoff = 2 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Minute
	}
	if o.PaceHold <= 0 {
		o.PaceHold = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Policy == nil {
		o.Policy = &Policy{}
	}
	if o.Pacer == nil {
		o.Pacer = &Pacer{}
	}
}

// Engine runs the delivery workers.
type Engine struct {
	o    Options
	wake chan struct{}
}

// New returns an engine; Run starts its workers.
func New(o Options) *Engine {
	o.defaults()
	return &Engine{o: o, wake: make(chan struct{}, 1)}
}

// Enqueue puts messages into the outbox and wakes the workers: engines and
// the send API enqueue through it.
func (e *Engine) Enqueue(ctx context.Context, msgs []outbox.Message) error {
	if err := e.o.Queue.Enqueue(ctx, msgs); err != nil {
		return err
	}
	e.Wake()
	return nil
}

// SetBaseURL sets the public URL links are built on; call it before Run
// (a server listening on port 0 knows it only then).
func (e *Engine) SetBaseURL(u string) { e.o.BaseURL = u }

// Wake makes an idle worker claim now.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run runs the workers until ctx ends, then waits for their current
// messages.
func (e *Engine) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range e.o.Workers {
		wg.Go(func() { e.worker(ctx) })
	}
	wg.Wait()
}

func (e *Engine) worker(ctx context.Context) {
	for ctx.Err() == nil {
		recs, next, err := e.o.Queue.Claim(e.o.Now(), e.o.Batch)
		if err != nil {
			slog.Error("deliver: claim", "err", err)
		}
		if len(recs) > 0 {
			if len(recs) == e.o.Batch {
				// The queue may hold more: an idle worker claims it now,
				// not after this batch (which waited up to a poll).
				e.Wake()
			}
			e.process(ctx, recs)
			continue
		}
		wait := e.o.Poll
		if !next.IsZero() {
			wait = min(wait, max(time.Until(next), time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-e.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// pending is a message of a claimed batch on its way to its adapter.
type pending struct {
	rec      *outbox.Record
	rendered Rendered
	reserved bool      // holds a place under the caps
	at       time.Time // its pace slot: not sent before
}

// process takes a claimed batch through the policy, pacing and rendering,
// marks the survivors sending in one synced write, sends them, and records
// every decision as events.
func (e *Engine) process(ctx context.Context, recs []*outbox.Record) {
	now := e.o.Now()
	var evs []Event
	var send []pending
	for _, r := range recs {
		if r.Recovered {
			e.o.Metrics.resend(r.Channel)
		}
		d, err := e.o.Policy.Check(r, now)
		if err != nil {
			slog.Error("deliver: policy", "key", r.Key, "err", err)
			e.o.Queue.Release(r)
			continue
		}
		e.o.Metrics.decision(d.Action, d.Reason)
		switch d.Action {
		case "suppress", "drop":
			state := outbox.Suppressed
			if d.Action == "drop" {
				state = outbox.Dropped
			}
			if e.finish(r, state, d.Reason) {
				evs = append(evs, e.event(EventSuppressed, r, now, map[string]any{"reason": d.Reason, "dropped": d.Action == "drop"}))
			}
			continue
		case "defer":
			if err := e.o.Queue.Reschedule(r, d.Until, d.Reason); err != nil {
				slog.Error("deliver: reschedule", "key", r.Key, "err", err)
				e.o.Queue.Release(r)
				continue
			}
			evs = append(evs, e.event(EventDeferred, r, now, map[string]any{"reason": d.Reason, "until": d.Until.Format(time.RFC3339)}))
			continue
		}
		p := pending{rec: r, reserved: r.Purpose != outbox.PurposeTransactional}
		wait, err := e.o.Pacer.Reserve(r.Channel, now, e.o.PaceHold)
		if err != nil {
			slog.Error("deliver: pacing", "key", r.Key, "err", err)
			e.unreserve(p)
			e.o.Queue.Release(r)
			continue
		}
		if wait > e.o.PaceHold {
			e.unreserve(p)
			until := now.Add(wait)
			if err := e.o.Queue.Reschedule(r, until, "pacing"); err != nil {
				slog.Error("deliver: reschedule", "key", r.Key, "err", err)
				e.o.Queue.Release(r)
			} else if wait >= time.Minute {
				// Short pacing waits are the pace working, not news.
				evs = append(evs, e.event(EventDeferred, r, now, map[string]any{"reason": "pacing", "until": until.Format(time.RFC3339)}))
			}
			continue
		}
		p.at = now.Add(wait)
		p.rendered, err = e.o.Renderer.Render(ctx, RenderRequest{Template: r.Template, Version: r.TemplateVersion, Profile: r.Profile, Data: r.Data, SendKey: r.Key, BaseURL: e.o.BaseURL, Journey: r.Journey, Step: r.Step})
		if err != nil {
			e.unreserve(p)
			if e.finish(r, outbox.Failed, "render: "+err.Error()) {
				e.o.Metrics.failure(r.Channel)
				evs = append(evs, e.event(EventFailed, r, now, map[string]any{"reason": "render: " + err.Error()}))
			}
			continue
		}
		if e.o.Adapters[r.Channel] == nil {
			e.unreserve(p)
			if e.finish(r, outbox.Failed, "no adapter configured for channel "+r.Channel) {
				e.o.Metrics.failure(r.Channel)
				evs = append(evs, e.event(EventFailed, r, now, map[string]any{"reason": "no adapter configured for channel " + r.Channel}))
			}
			continue
		}
		send = append(send, p)
	}
	if len(send) > 0 {
		marked := make([]*outbox.Record, len(send))
		for i, p := range send {
			marked[i] = p.rec
		}
		if err := e.o.Queue.MarkSending(marked); err != nil {
			slog.Error("deliver: mark sending", "n", len(marked), "err", err)
			for _, p := range send {
				e.unreserve(p)
				e.o.Queue.Release(p.rec)
			}
			send = nil
		}
	}
	if len(send) > 0 {
		// The batch's messages go to their adapters at once, each
		// settled by its own writes (concurrent syncs share Pebble's
		// group commit): sent one after another, the last of a batch
		// waited for every send and sync before it.
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, p := range send {
			wg.Go(func() {
				got := e.send(ctx, p)
				mu.Lock()
				evs = append(evs, got...)
				mu.Unlock()
			})
		}
		wg.Wait()
		if err := e.o.Queue.Sync(); err != nil {
			slog.Error("deliver: sync", "err", err)
		}
	}
	if len(evs) > 0 && e.o.Record != nil {
		if err := e.o.Record(context.WithoutCancel(ctx), evs); err != nil {
			slog.Error("deliver: record events", "n", len(evs), "err", err)
		}
	}
}

func (e *Engine) unreserve(p pending) {
	if p.reserved {
		e.o.Policy.Unreserve(p.rec)
	}
}

func (e *Engine) finish(r *outbox.Record, state outbox.State, reason string) bool {
	if err := e.o.Queue.Finish(r, state, reason, true); err != nil {
		slog.Error("deliver: finish", "key", r.Key, "state", state, "err", err)
		e.o.Queue.Release(r)
		return false
	}
	return true
}

// send hands one message to its adapter and settles its state.
func (e *Engine) send(ctx context.Context, p pending) []Event {
	r := p.rec
	if d := time.Until(p.at); d > 0 {
		// Waiting here, between sends rather than before the batch is
		// marked sending, spreads the batch over its pace slots.
		time.Sleep(d)
	}
	start := e.o.Now()
	rcpt, err := e.o.Adapters[r.Channel].Send(context.WithoutCancel(ctx), Envelope{Rendered: p.rendered, Key: r.Key, Profile: r.Profile})
	now := e.o.Now()
	if err == nil {
		e.o.Metrics.sent(r.Channel, now.Sub(start))
		// Durable at once: a crash between the provider's accept and this
		// write is what makes a duplicate, so the window is one write
		// (concurrent workers share the sync). When Record's write makes
		// it durable, that one sync also keeps the Sent event.
		carried := e.o.RecordSyncsQueue && e.o.Record != nil
		if err := e.o.Queue.Finish(r, outbox.Sent, "", !carried); err != nil {
			slog.Error("deliver: finish sent", "key", r.Key, "err", err)
			e.o.Queue.Release(r)
		}
		if p.reserved {
			if err := e.o.Policy.Counted(r, now); err != nil {
				slog.Error("deliver: count cap", "key", r.Key, "err", err)
			}
		}
		props := map[string]any{}
		// The message history shows what the person saw first.
		if sub := cmp.Or(p.rendered.Subject, p.rendered.Title); sub != "" {
			props["subject"] = sub
		}
		if rcpt.ProviderID != "" {
			props["provider_id"] = rcpt.ProviderID
		}
		evs := []Event{e.event(EventSent, r, now, props)}
		if r.Channel == "inapp" {
			evs = append(evs, e.event(EventDelivered, r, now, nil))
		}
		if carried {
			if err := e.o.Record(context.WithoutCancel(ctx), evs); err != nil {
				slog.Error("deliver: record sent", "key", r.Key, "err", err)
				if err := e.o.Queue.Sync(); err != nil {
					slog.Error("deliver: sync", "err", err)
				}
			}
			return nil
		}
		return evs
	}
	e.unreserve(p)
	if isTemporary(err) && r.Attempts < e.o.MaxAttempts {
		e.o.Metrics.retry(r.Channel)
		due := now.Add(e.backoff(r.Attempts))
		if err := e.o.Queue.Reschedule(r, due, "retry: "+err.Error()); err != nil {
			slog.Error("deliver: reschedule retry", "key", r.Key, "err", err)
			e.o.Queue.Release(r)
		}
		return nil
	}
	e.o.Metrics.failure(r.Channel)
	if err := e.o.Queue.Finish(r, outbox.Failed, err.Error(), false); err != nil {
		slog.Error("deliver: finish failed", "key", r.Key, "err", err)
		e.o.Queue.Release(r)
	}
	if isBounce(err) {
		return []Event{e.event(EventBounced, r, now, map[string]any{"hard": true, "reason": err.Error()})}
	}
	return []Event{e.event(EventFailed, r, now, map[string]any{"reason": err.Error()})}
}

// backoff is the delay before retry n (n ≥ 1): Backoff·2^(n-1), at most
// MaxBackoff, ±20% jitter so that retries of one outage spread out.
func (e *Engine) backoff(n int) time.Duration {
	d := e.o.Backoff
	for i := 1; i < n && d < e.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, e.o.MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// event builds a delivery event of r; its message id is the key, the name
// and what distinguishes repeats of the name (the due time of a deferral).
func (e *Engine) event(name string, r *outbox.Record, at time.Time, props map[string]any) Event {
	if props == nil {
		props = map[string]any{}
	}
	props["message_key"] = r.Key
	props["channel"] = r.Channel
	props["template"] = r.Template
	if r.Journey != "" {
		props["journey"] = r.Journey
		props["journey_version"] = r.JourneyVersion
		props["step"] = r.Step
	}
	distinct := ""
	if name == EventDeferred {
		distinct = fmt.Sprint(props["until"], r.Attempts)
	}
	h := sha256.Sum256([]byte(r.Key + "\x00" + name + "\x00" + distinct))
	return Event{Name: name, Profile: r.Profile, MessageID: "tailor-msg-" + hex.EncodeToString(h[:16]), At: at, Properties: props}
}
