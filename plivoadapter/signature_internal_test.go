package plivoadapter

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	plivo "github.com/plivo/plivo-go/v7"
)

// TestSignatureV3MatchesPlivoGo checks SignatureV3 against plivo-go's own
// ComputeSignatureV3 and ValidateSignatureV3 over URLs with and without
// queries, GET and POST, with and without params.
func TestSignatureV3MatchesPlivoGo(t *testing.T) {
	t.Parallel()
	const token = "MzQ1NjcxMjM0NTY3ODkwMTIzNDU2"
	uris := []string{
		"https://example.com/plivo/answer",
		"https://example.com/plivo/answer/",
		"https://example.com:8443/a?token=abc_-DEF",
		"http://example.com/s?b=2&a=1&a=3",
		"https://example.com/s?x=%2B14155550100&y=a+b",
	}
	params := []map[string]string{
		{},
		{"CallUUID": "c1", "From": "14155550000", "To": "14155550100", "Direction": "outbound"},
		{"Status": "failed", "ErrorCode": "30", "MessageUUID": "m-1", "Z": "", "a": "lower"},
	}
	n := 0
	for _, uri := range uris {
		for _, p := range params {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				nonce := fmt.Sprintf("%020d", 5429567804466091622+n)
				n++
				want := plivo.ComputeSignatureV3(token, uri, method, nonce, p)
				if got := SignatureV3(token, method, uri, nonce, p); got != want {
					t.Errorf("SignatureV3(%s %s %v) = %s, plivo-go %s", method, uri, p, got, want)
				}
				if !ValidSignatureV3(token, method, uri, nonce, "other,"+want, p) {
					t.Errorf("ValidSignatureV3 refused plivo-go's signature for %s %s", method, uri)
				}
				if !plivo.ValidateSignatureV3(uri, nonce, method, want, token, p) {
					t.Errorf("plivo-go refused its own signature for %s %s", method, uri)
				}
				if ValidSignatureV3(token+"x", method, uri, nonce, want, p) {
					t.Errorf("signature valid under another token for %s %s", method, uri)
				}
			}
		}
	}
}

// TestSignatureV3KnownVector pins the algorithm on a hand-built string:
// POST, URL with query, params sorted as key+value, "." separators.
func TestSignatureV3KnownVector(t *testing.T) {
	t.Parallel()
	got := signedURL("https://example.com/cb?b=2&a=1", map[string]string{"To": "1415", "From": "1416"}, http.MethodPost)
	if want := "https://example.com/cb?a=1&b=2.From1416To1415"; got != want {
		t.Errorf("POST signed URL = %q, want %q", got, want)
	}
	got = signedURL("https://example.com/cb?b=2", map[string]string{"a": "1"}, http.MethodGet)
	if want := "https://example.com/cb?a=1&b=2"; got != want {
		t.Errorf("GET signed URL = %q, want %q", got, want)
	}
	if got := signedURL("https://example.com/cb", nil, http.MethodPost); got != "https://example.com/cb" {
		t.Errorf("bare URL = %q", got)
	}
}

func TestValidSignatureV3Refuses(t *testing.T) {
	t.Parallel()
	sig := SignatureV3("tok", "POST", "https://e.com/a", "1", nil)
	for _, tt := range []struct{ token, nonce, sig string }{
		{"", "1", sig}, {"tok", "", sig}, {"tok", "1", ""}, {"tok", "2", sig}, {"tok", "1", sig + "x"}, {"tok", "1", " " + sig},
	} {
		if ValidSignatureV3(tt.token, "POST", "https://e.com/a", tt.nonce, tt.sig, nil) {
			t.Errorf("ValidSignatureV3(%q, nonce %q, %q) = true", tt.token, tt.nonce, tt.sig)
		}
	}
}

func TestSeenSet(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	s := newSeenSet(time.Minute, 3, func() time.Time { return now })
	for _, k := range []string{"a", "b", "c"} {
		if !s.add(k) {
			t.Fatalf("add(%s) = false for a new key", k)
		}
	}
	if s.add("b") {
		t.Error("add(b) = true for a seen key")
	}
	// Full: the oldest ("a") makes room for "d".
	if !s.add("d") || len(s.exp) != 3 {
		t.Errorf("add(d) on a full set: len %d", len(s.exp))
	}
	if !s.add("a") {
		t.Error("evicted key still seen")
	}
	now = now.Add(time.Minute)
	if !s.add("b") {
		t.Error("expired key still seen")
	}
	if len(s.exp) > 3 {
		t.Errorf("len = %d, want <= 3", len(s.exp))
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"invalid dst +14155550100", "invalid dst [digits]"},
		{"code 493817 rejected", "code [digits] rejected"},
		{"error 404 at 12:30", "error 404 at 12:30"},
		{"a+b 1234", "a+b [digits]"},
	}
	for _, tt := range tests {
		if got := mask(tt.in); got != tt.want {
			t.Errorf("mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if _, msg := plivoBody(`{"api_id":"x-1","error":{"dst":["+14155550100 is not valid"]}}`); strings.Contains(msg, "4155550100") {
		t.Errorf("plivoBody leaks the number: %q", msg)
	}
	if id, _ := plivoBody(`{"api_id":"<script>","error":"e"}`); id != "" {
		t.Errorf("api_id %q kept", id)
	}
}

// TestSignatureV2MatchesPlivoGo checks SignatureV2 and ValidSignatureV2
// against vectors made with plivo-go's ComputeSignatureV2 and
// ValidateSignatureV2: URL without its query, then the nonce, no separator.
func TestSignatureV2MatchesPlivoGo(t *testing.T) {
	t.Parallel()
	const token = "MzQ1NjcxMjM0NTY3ODkwMTIzNDU2"
	for i, uri := range []string{
		"https://example.com/plivo/status",
		"https://example.com/plivo/status/",
		"https://example.com:8443/s?app=demo&b=2",
		"http://127.0.0.1:8080/plivo/status?x=%2B1",
	} {
		nonce := fmt.Sprintf("%020d", 5429567804466091622+i)
		want := plivo.ComputeSignatureV2(token, uri, nonce)
		if got := SignatureV2(token, uri, nonce); got != want {
			t.Errorf("SignatureV2(%s) = %s, plivo-go %s", uri, got, want)
		}
		if !plivo.ValidateSignatureV2(uri, nonce, want, token) {
			t.Errorf("plivo-go refused its own signature for %s", uri)
		}
		if !ValidSignatureV2(token, uri, nonce, "other,"+want) {
			t.Errorf("ValidSignatureV2 refused plivo-go's signature for %s", uri)
		}
		for _, bad := range []struct{ token, nonce, sig string }{
			{token + "x", nonce, want}, {token, nonce + "1", want}, {token, nonce, " " + want}, {token, nonce, ""}, {"", nonce, want}, {token, "", want},
		} {
			if ValidSignatureV2(bad.token, uri, bad.nonce, bad.sig) {
				t.Errorf("ValidSignatureV2(%q, %s, %q, %q) = true", bad.token, uri, bad.nonce, bad.sig)
			}
		}
	}
	// The documented example: https://<yourdomain>.com/answer/ with nonce
	// 05429567804466091622 signs "https://<yourdomain>.com/answer/05429567804466091622".
	mac := SignatureV2("tok", "https://example.com/answer/?q=1", "05429567804466091622")
	if want := plivo.ComputeSignatureV2("tok", "https://example.com/answer/", "05429567804466091622"); mac != want {
		t.Errorf("the query is signed: %s != %s", mac, want)
	}
}
