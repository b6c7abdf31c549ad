package e2e_test

import (
	"github.com/go2fa/go2fa/internal/testclock"
)

const (
	alice = "+14155550100"
	bob   = "+14155550101"
)

// clock is the fake clock a test shares between go2fa and miniredis.
type clock = testclock.Clock
