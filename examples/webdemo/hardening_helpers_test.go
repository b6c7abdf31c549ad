package main

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/store/redisstore/redistest"
)

// Helpers of the hardening tests: a redis-server this test owns (and may
// SIGKILL) and a TCP proxy that delays, both from redistest under the names
// hardening_test.go calls, and an HTTP helper safe to call from worker
// goroutines.

// redisProc is a redis-server started by the test (redistest.StartServer).
type redisProc struct{ *redistest.Server }

func startRedis(t *testing.T) redisProc {
	t.Helper()
	return redisProc{redistest.StartServer(t)}
}

func (p redisProc) addr() string { return p.Addr() }

// kill sends SIGKILL and reaps the process; it is safe to call twice.
func (p redisProc) kill() { p.Kill() }

// start starts the killed server again on the same port.
func (p redisProc) start() { p.Restart() }

// delayProxy forwards TCP to a backend on loopback; while slow, it holds
// every chunk for delay before forwarding it (both directions).
type delayProxy struct {
	*redistest.Proxy
	delay time.Duration
}

func newDelayProxy(t *testing.T, backend string, delay time.Duration) delayProxy {
	t.Helper()
	return delayProxy{redistest.NewProxy(t, backend), delay}
}

func (p delayProxy) addr() string { return p.Addr() }

func (p delayProxy) setSlow(on bool) {
	if on {
		p.SetDelay(p.delay)
	} else {
		p.SetDelay(0)
	}
}

// reply is one HTTP answer of the app, whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.body, &m)
	return m
}

// postJSON posts body to url and reads the whole answer; unlike post it
// does not fail the test, so worker goroutines can call it.
func postJSON(c *http.Client, url, body string) (reply, error) {
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// numberForms returns the ways a number could show up: E.164 with and
// without "+", and the national significant digits (NANP numbers only
// here: the digits after the leading 1).
func numberForms(e164 string) []string {
	digits := strings.TrimPrefix(e164, "+")
	return []string{e164, digits, strings.TrimPrefix(digits, "1")}
}

// containsToken reports whether s holds tok not flanked by other digits
// (so a code is not "found" inside an unrelated longer number, such as a
// millisecond timestamp).
func containsToken(s []byte, tok string) bool {
	re := regexp.MustCompile(`(^|[^0-9])` + regexp.QuoteMeta(tok) + `($|[^0-9])`)
	return re.Match(s)
}

// codeRun finds the first 4-10 digit code in a Plivo request body.
var codeRun = regexp.MustCompile(`code is ([0-9]{4,10})`)

func codeInBody(b []byte) string {
	if m := codeRun.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}
