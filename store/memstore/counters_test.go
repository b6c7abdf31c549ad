package memstore_test

import (
	"testing"

	"github.com/go2fa/go2fa/store/storetest"
)

func TestCounterConformance(t *testing.T) { storetest.RunCounters(t, newHarness) }
