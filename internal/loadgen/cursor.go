package loadgen

import (
	"sync"
	"sync/atomic"
	"time"
)

// cursor hands out request bodies to a run's workers, cycling through the
// corpus pass after pass. Each pass carries fresh message ids, so the server's
// messageId de-duplication never sees a repeat.
//
// Two slots each hold a full copy of the corpus bodies. Pass L lives in slot
// L%2; as soon as the first body of pass L is handed out, the renderer turns
// slot (L+1)%2 from pass L-1 into pass L+1 by overwriting the pass digits of
// every messageId in place (a few milliseconds, no allocation), after waiting
// for the requests still sending pass L-1 bodies to finish.
//
// Invariant: a slot's bytes change only while its state is "not ready" and
// its inflight count is zero. A worker announces itself in inflight before it
// re-checks that the slot is ready for its pass, and the renderer marks the
// slot not ready before it reads inflight, so one of them always sees the
// other (sequentially consistent atomics).
type cursor struct {
	c       *Corpus
	n       uint64 // bodies per pass
	next    atomic.Uint64
	started atomic.Uint64 // highest pass whose first body was handed out
	slots   [2]slot
	mu      sync.Mutex
	ready   *sync.Cond // broadcast under mu when a slot becomes ready
	signal  chan struct{}
	done    chan struct{}
	exited  chan struct{}
	stalls  atomic.Uint64 // times a worker waited for a pass to be rendered
}

type slot struct {
	state    atomic.Uint64 // pass<<1 | 1 when ready to send
	inflight atomic.Int64  // bodies of this slot handed out and not yet released
	arena    []byte
	_        [40]byte
}

// lease is one body handed to a worker; release it once its request is done.
type lease struct {
	body   []byte
	events int
	path   int
	slot   *slot
}

// newCursor prepares passes 0 and 1 before returning and starts the renderer.
// Call close when the run ends.
func newCursor(c *Corpus) *cursor {
	k := &cursor{
		c:      c,
		n:      uint64(len(c.bodies)),
		signal: make(chan struct{}, 1),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	k.ready = sync.NewCond(&k.mu)
	for i := range k.slots {
		s := &k.slots[i]
		s.arena = c.render()
		s.state.Store(uint64(i)<<1 | 1)
	}
	go k.renderLoop()
	return k
}

func (k *cursor) renderLoop() {
	defer close(k.exited)
	rendered := uint64(1)
	for {
		select {
		case <-k.done:
			return
		case <-k.signal:
		}
		for rendered < k.started.Load()+1 {
			rendered++
			s := &k.slots[rendered%2]
			s.state.Store(rendered << 1) // not ready: no new leases
			for s.inflight.Load() > 0 {
				select {
				case <-k.done:
					return
				case <-time.After(100 * time.Microsecond):
				}
			}
			k.c.stamp(s.arena)
			s.state.Store(rendered<<1 | 1)
			k.mu.Lock()
			k.ready.Broadcast()
			k.mu.Unlock()
		}
	}
}

// body leases the next body to send. It does not allocate.
func (k *cursor) body() lease {
	for {
		i := k.next.Add(1) - 1
		pass, j := i/k.n, i%k.n
		if j == 0 && pass > 0 {
			for {
				s := k.started.Load()
				if s >= pass || k.started.CompareAndSwap(s, pass) {
					break
				}
			}
			select {
			case k.signal <- struct{}{}:
			default:
			}
		}
		s := &k.slots[pass%2]
		want := pass<<1 | 1
		if st := s.state.Load(); st != want {
			if st>>1 > pass {
				continue // descheduled for a whole pass: the slot moved on, skip this body
			}
			k.stalls.Add(1)
			k.mu.Lock()
			for st = s.state.Load(); st>>1 <= pass && st != want; st = s.state.Load() {
				k.ready.Wait()
			}
			k.mu.Unlock()
		}
		s.inflight.Add(1)
		if s.state.Load() != want {
			s.inflight.Add(-1) // the renderer took the slot meanwhile
			continue
		}
		b := k.c.bodies[j]
		return lease{s.arena[b.off:b.end], b.events, b.path, s}
	}
}

// release ends a lease: its body's bytes may be rewritten from now on. A
// request that failed may in rare cases still be written by net/http after
// Do returns; then at worst a failed request carries other pass digits.
func (k *cursor) release(l lease) { l.slot.inflight.Add(-1) }

// close stops the renderer and gives the slots back to the corpus. Call it
// when no lease is outstanding.
func (k *cursor) close() {
	close(k.done)
	<-k.exited
	for i := range k.slots {
		k.c.giveBack(k.slots[i].arena)
		k.slots[i].arena = nil
	}
}
