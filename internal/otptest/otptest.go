// Package otptest holds the helpers that the otp package's tests and the
// end-to-end tests (internal/e2e, otp/otphttp) share: distinct valid
// numbers, a wrong code of the right form, and concurrent calls counted by
// status. Only tests import it.
package otptest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go2fa/go2fa/otp"
)

// Numbers returns n distinct valid US numbers in E.164 form, up to 8
// million of them.
func Numbers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+1415%03d%04d", 200+i/10000%800, i%10000)
	}
	return out
}

// Wrong returns a code of the same length and digits-only form as code
// that differs from it in the first digit.
func Wrong(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// Concurrently runs f(0) to f(n-1) in n goroutines released together, and
// counts the statuses they return; an error from any call fails t.
func Concurrently(t testing.TB, n int, f func(i int) (otp.CheckResult, error)) map[otp.Status]int {
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
		t.Fatalf("%d of %d concurrent calls failed", e, n)
	}
	return counts
}
