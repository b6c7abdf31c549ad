package main

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// An HTTP helper of the hardening tests, safe to call from worker
// goroutines. The redis-server they kill and the proxy that delays come from
// store/redisstore/redistest.

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
