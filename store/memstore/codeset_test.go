package memstore_test

import (
	"testing"
	"time"

	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/memstore"
	"github.com/go2fa/go2fa/store/storetest"
)

func TestCodeSetConformance(t *testing.T) { storetest.RunCodeSets(t, newHarness) }

func TestCodeSetConformanceRealTime(t *testing.T) { storetest.RunCodeSets(t, newRealTimeHarness) }

// An expired code set, and the failure counter it leaves, are reclaimed by
// Sweep; a live one is not.
func TestCodeSetSweep(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := memstore.New(memstore.WithClock(clock.Now), memstore.WithSweepInterval(0))
	ctx := t.Context()
	d := digest()
	if err := s.ReplaceCodes(ctx, store.ReplaceCodesRequest{Key: "k", Digests: [][]byte{d}, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemCode(ctx, store.RedeemCodeRequest{Key: "k", Digest: digest(), MaxFailures: 5, FailureWindow: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour + time.Second)
	s.Sweep()
	// The set expired but the failure counter is alive: still counted.
	res, err := s.RedeemCode(ctx, store.RedeemCodeRequest{Key: "k", Digest: d, MaxFailures: 5, FailureWindow: 2 * time.Hour})
	if err != nil || res.Status != store.Rejected || res.Remaining != 3 || res.Left != 0 {
		t.Fatalf("RedeemCode after the set expired = %+v, %v; want rejected, 3 remaining, 0 left", res, err)
	}
	clock.Advance(time.Hour)
	s.Sweep()
	if n := s.CodeSetLen(); n != 0 {
		t.Fatalf("after Sweep: %d code sets kept, want 0", n)
	}
}
