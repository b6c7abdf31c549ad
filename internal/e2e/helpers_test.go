package e2e_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go2fa/go2fa/internal/testclock"
	"github.com/go2fa/go2fa/otp"
)

const (
	alice = "+14155550100"
	bob   = "+14155550101"
)

// numbers returns n distinct valid US numbers.
func numbers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+1415%03d%04d", 200+i/10000%800, i%10000)
	}
	return out
}

// wrong returns a well-formed code different from code.
func wrong(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// runConcurrently runs f(0..n-1) at once and counts the statuses; any error
// fails the test.
func runConcurrently(t *testing.T, n int, f func(i int) (otp.CheckResult, error)) map[otp.Status]int {
	t.Helper()
	var (
		mu     sync.Mutex
		counts = map[otp.Status]int{}
		wg     sync.WaitGroup
		start  = make(chan struct{})
		errs   atomic.Int64
	)
	for i := range n {
		wg.Go(func() {
			<-start
			res, err := f(i)
			if err != nil {
				errs.Add(1)
				return
			}
			mu.Lock()
			counts[res.Status]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if e := errs.Load(); e != 0 {
		t.Fatalf("%d calls failed", e)
	}
	return counts
}

// clock is the fake clock a test shares between go2fa and miniredis.
type clock = testclock.Clock
