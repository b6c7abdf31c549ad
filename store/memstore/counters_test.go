package memstore_test

import (
	"testing"

	"github.com/go2fa/go2fa/store/memstore"
	"github.com/go2fa/go2fa/store/storetest"
)

func TestCounterConformance(t *testing.T) {
	storetest.RunCounters(t, func(t *testing.T) storetest.Harness {
		clock := newFakeClock()
		s := memstore.New(memstore.WithClock(clock.Now))
		t.Cleanup(func() { s.Close() })
		return storetest.Harness{Store: s, Advance: clock.Advance}
	})
}
