package otp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store"
)

func (p Policy) validateFallback() error {
	for i, c := range p.FallbackChain {
		if !c.Valid() || slices.Contains(p.FallbackChain[:i], c) {
			return fmt.Errorf("FallbackChain: unknown or repeated channel %q", limitText(string(c)))
		}
	}
	switch {
	case p.FallbackAfter < 0:
		return errors.New("FallbackAfter must not be negative")
	case p.FallbackAfter > 0 && !p.Fallback:
		return errors.New("FallbackAfter needs Fallback")
	case p.FallbackAfter > 0 && (p.FallbackAfter < time.Second || p.FallbackAfter >= p.TTL):
		return fmt.Errorf("FallbackAfter %s not in 1s–TTL", p.FallbackAfter)
	}
	return nil
}

// nextChannel is the channel after ch in the fallback chain.
func (p Policy) nextChannel(ch sender.Channel) (sender.Channel, bool) {
	i := slices.Index(p.FallbackChain, ch)
	if i < 0 || i+1 >= len(p.FallbackChain) {
		return "", false
	}
	return p.FallbackChain[i+1], true
}

// FallbackNext is Fallback to the channel that follows, in
// Policy.FallbackChain, the channel the referenced code was sent on: call
// it from a report that a message was not delivered. A code sent on the
// last channel of the chain has nowhere to go: ErrInvalidChannel.
func (v *Verifier) FallbackNext(ctx context.Context, ref string) (FallbackResult, error) {
	if !v.policy.Fallback {
		return FallbackResult{}, fmt.Errorf("%w: Policy.Fallback is off", ErrInvalidConfig)
	}
	r, ok := v.keys.parseRef(ref)
	from := r.ch
	if !ok {
		return FallbackResult{}, ErrInvalidRef
	}
	next, ok := v.policy.nextChannel(from)
	if !ok {
		return FallbackResult{}, fmt.Errorf("%w: no channel follows %s in Policy.FallbackChain", ErrInvalidChannel, from)
	}
	return v.Fallback(ctx, ref, next)
}

// Delivered records that the message with reference ref was delivered,
// so the fallback after silence (Policy.FallbackAfter) scheduled for it
// does not happen. Without FallbackAfter it does nothing. A reference
// this Verifier did not make is ErrInvalidRef.
func (v *Verifier) Delivered(ctx context.Context, ref string) error {
	if !v.policy.Fallback {
		return fmt.Errorf("%w: Policy.Fallback is off", ErrInvalidConfig)
	}
	if _, ok := v.keys.parseRef(ref); !ok {
		return ErrInvalidRef
	}
	if v.policy.FallbackAfter <= 0 {
		return nil
	}
	if err := v.store.(store.FallbackQueue).Cancel(ctx, ref); err != nil {
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	return nil
}

// scheduleFallback queues the fallback after silence of a message Start
// has sent. The code was delivered to the Sender already, so a failure
// here does not fail Start: it is reported to the Observer.
func (v *Verifier) scheduleFallback(ctx context.Context, msg sender.Message, ev Event) {
	p := v.policy
	if p.FallbackAfter <= 0 || msg.Ref == "" {
		return
	}
	if _, ok := p.nextChannel(msg.Channel); !ok {
		return
	}
	if err := v.store.(store.FallbackQueue).Schedule(ctx, msg.Ref, p.FallbackAfter); err != nil {
		ev.Kind, ev.Err = EventStoreError, fmt.Errorf("otp: scheduling the fallback after silence: %w", err)
		v.observe(ctx, v.begin(), ev)
	}
}

// Defaults of a FallbackWorker.
const (
	// DefaultFallbackLease is how long a claimed fallback is reserved for
	// the worker that claimed it.
	DefaultFallbackLease = 30 * time.Second
	// DefaultFallbackBatch is how many fallbacks one Poll claims at most.
	DefaultFallbackBatch = 100
)

// FallbackWorker sends the fallbacks after silence (Policy.FallbackAfter)
// that have fallen due: every process sharing a Store may run one; the
// Store's queue hands each due fallback to one of them, and one that dies
// holding a fallback leaves it, when its lease ends, to another (or to
// itself after a restart). Each fallback goes through Verifier.FallbackNext,
// so it happens at most once per code and channel, and not at all once the code is
// approved, expired, locked or replaced. It is safe for concurrent use.
type FallbackWorker struct {
	v     *Verifier
	q     store.FallbackQueue
	lease time.Duration
	batch int
}

// FallbackWorker returns a worker for the Verifier's fallbacks after
// silence, or an error wrapping ErrInvalidConfig when Policy.FallbackAfter
// is not set.
func (v *Verifier) FallbackWorker() (*FallbackWorker, error) {
	if v.policy.FallbackAfter <= 0 {
		return nil, fmt.Errorf("%w: Policy.FallbackAfter is not set", ErrInvalidConfig)
	}
	return &FallbackWorker{v: v, q: v.store.(store.FallbackQueue), lease: DefaultFallbackLease, batch: DefaultFallbackBatch}, nil
}

// Poll claims the fallbacks due now, sends each, and reports how many were
// sent. A fallback that meets a store failure is left in the queue and
// comes back when its lease ends; any other outcome (sent, spent, no
// longer pending, refused by a limit, send failed) removes it. Errors are
// joined.
func (w *FallbackWorker) Poll(ctx context.Context) (sent int, err error) {
	refs, err := w.q.Claim(ctx, w.batch, w.lease)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	var errs []error
	for _, ref := range refs {
		res, err := w.v.FallbackNext(ctx, ref)
		if errors.Is(err, ErrStoreUnavailable) {
			errs = append(errs, err)
			continue
		}
		if err == nil && res.Status == FallbackSent {
			sent++
		} else if err != nil && !errors.Is(err, ErrRateLimited) {
			errs = append(errs, err)
		}
		if cerr := w.q.Cancel(ctx, ref); cerr != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrStoreUnavailable, cerr))
		}
	}
	return sent, errors.Join(errs...)
}

// Run polls every interval until ctx is done, then returns ctx's error.
// Poll errors go to onError when it is non-nil.
func (w *FallbackWorker) Run(ctx context.Context, every time.Duration, onError func(error)) error {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := w.Poll(ctx); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
