package otp_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go2fa/go2fa/internal/otptest"
	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
)

// guessBurst plays an attacker who cannot read the messages: it asks for
// codes and guesses wrong until a send is refused for the failure cap or
// the send budget, and returns the guesses that were compared with a code
// (Rejected, and the Locked that ends a code's attempts).
func guessBurst(t *testing.T, f *fixture, to string, guesses int) int {
	t.Helper()
	compared := 0
	for compared < guesses {
		_, err := f.v.Start(context.Background(), to, sender.SMS)
		var rl *otp.RateLimitError
		if errors.As(err, &rl) {
			if rl.Reason != otp.LimitCooldown {
				return compared
			}
			time.Sleep(rl.RetryAfter)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		m, _ := f.rec.Last(to)
		prev := otp.Rejected
		for compared < guesses {
			res := f.check(t, to, otptest.Wrong(m.Code))
			if res.Status == otp.Rejected || (res.Status == otp.Locked && prev == otp.Rejected) {
				compared++
			}
			if res.Status != otp.Rejected {
				break
			}
			prev = res.Status
		}
	}
	return compared
}

// TestFailureCapWindowEdge: the failure cap (20 per 24 h by default) holds
// over every 24 h, also across the end of the window the first failure
// opened. One guess at 00:00, the rest at 23:00 and again at 00:01 the next
// day must stay within 20.
func TestFailureCapWindowEdge(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		p := f.v.Policy()
		first := guessBurst(t, f, alice, 1)
		time.Sleep(23 * time.Hour)
		late := guessBurst(t, f, alice, p.MaxFailures)
		time.Sleep(time.Hour + time.Minute)
		next := guessBurst(t, f, alice, p.MaxFailures)
		if first != 1 || late+next > p.MaxFailures-first {
			t.Fatalf("guesses compared: %d at 00:00, %d at 23:00 and %d at 00:01 the next day; want at most %d in any %s",
				first, late, next, p.MaxFailures, p.FailureWindow)
		}
		// A FailureWindow after the latest failure, the cap is lifted.
		time.Sleep(p.FailureWindow)
		if n := guessBurst(t, f, alice, 1); n != 1 {
			t.Fatalf("a FailureWindow after the latest failure: %d guesses, want 1", n)
		}
	})
}
