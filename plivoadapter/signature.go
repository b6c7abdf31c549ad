package plivoadapter

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Headers Plivo signs its callbacks with. Voice callbacks carry V3;
// message status callbacks carry V2 (and V3 on some accounts). The Ma
// headers are signed with the main account's Auth Token.
const (
	HeaderSignatureV3   = "X-Plivo-Signature-V3"
	HeaderSignatureMaV3 = "X-Plivo-Signature-Ma-V3"
	HeaderNonceV3       = "X-Plivo-Signature-V3-Nonce"
	HeaderSignatureV2   = "X-Plivo-Signature-V2"
	HeaderSignatureMaV2 = "X-Plivo-Signature-Ma-V2"
	HeaderNonceV2       = "X-Plivo-Signature-V2-Nonce"
)

// SignatureV2 computes Plivo's X-Plivo-Signature-V2 for a callback: the
// base64 HMAC-SHA256, keyed with the auth token, of the callback URL's
// scheme, host and path (no query) followed directly by the nonce. It
// mirrors plivo-go's ComputeSignatureV2 without its panic on a malformed
// URL; the tests check the two agree. It signs neither the query nor the
// body: the status handler ties what a V2-signed report says to a message
// it sent, and acts once per message.
func SignatureV2(authToken, uri, nonce string) string {
	u, err := url.Parse(uri)
	base := "\x00invalid"
	if err == nil {
		base = u.Scheme + "://" + u.Host + u.Path
	}
	mac := hmac.New(sha256.New, []byte(authToken))
	mac.Write([]byte(base + nonce))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidSignatureV2 reports whether signature (the header's value, possibly
// several comma-separated signatures) holds the V2 signature of the
// callback. Every candidate is compared in constant time.
func ValidSignatureV2(authToken, uri, nonce, signature string) bool {
	if authToken == "" || nonce == "" || signature == "" {
		return false
	}
	return anyEqual(signature, SignatureV2(authToken, uri, nonce))
}

// anyEqual compares every comma-separated candidate in list with want in
// constant time and reports whether one matched.
func anyEqual(list, want string) bool {
	ok := 0
	for _, got := range strings.Split(list, ",") {
		ok |= subtle.ConstantTimeCompare([]byte(got), []byte(want))
	}
	return ok == 1
}

// SignatureV3 computes Plivo's X-Plivo-Signature-V3 for a callback: the
// base64 HMAC-SHA256, keyed with the auth token, of the callback URL as
// Plivo called it, rebuilt as plivo-go's GenerateUrl does (for GET, the
// query and params merged and sorted as k=v joined by &; for POST, the
// sorted query as k=v&..., a ".", then the sorted POST params as kv with no
// separators), then "." and the nonce. It mirrors plivo-go's
// ComputeSignatureV3 without its panic on a malformed URL; the tests check
// the two agree.
func SignatureV3(authToken, method, uri, nonce string, params map[string]string) string {
	mac := hmac.New(sha256.New, []byte(authToken))
	mac.Write([]byte(signedURL(uri, params, method) + "." + nonce))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidSignatureV3 reports whether signature (the header's value, possibly
// several comma-separated signatures) holds the V3 signature of the
// callback. Every candidate is compared in constant time.
func ValidSignatureV3(authToken, method, uri, nonce, signature string, params map[string]string) bool {
	if authToken == "" || nonce == "" || signature == "" {
		return false
	}
	return anyEqual(signature, SignatureV3(authToken, method, uri, nonce, params))
}

// signedURL mirrors plivo-go's GenerateUrl.
func signedURL(uri string, params map[string]string, method string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return "\x00invalid"
	}
	out := u.Scheme + "://" + u.Host + u.Path
	if len(params) > 0 || len(u.RawQuery) > 0 {
		out += "?"
	}
	if len(u.RawQuery) > 0 {
		q := firstValues(u.Query())
		if method == http.MethodGet {
			for k, v := range params {
				q[k] = v
			}
			out += sortedParams(q, true)
		} else {
			out += sortedParams(q, true) + "." + sortedParams(params, false)
			out = strings.TrimRight(out, ".")
		}
	} else {
		out += sortedParams(params, method == http.MethodGet)
	}
	return out
}

func firstValues(v url.Values) map[string]string {
	m := make(map[string]string, len(v))
	for k, vs := range v {
		if len(vs) > 0 {
			m[k] = vs[0]
		}
	}
	return m
}

// sortedParams mirrors plivo-go's GetSortedQueryParamString.
func sortedParams(params map[string]string, query bool) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if query {
			b.WriteString(k + "=" + params[k] + "&")
		} else {
			b.WriteString(k + params[k])
		}
	}
	if query {
		return strings.TrimRight(b.String(), "&")
	}
	return b.String()
}

// maxCallbackBody bounds the form a callback may post.
const maxCallbackBody = 64 << 10

// callbackGuard verifies Plivo's callbacks to one public URL: method,
// signature, and nonce replay. It is safe for concurrent use.
type callbackGuard struct {
	authToken string
	mainToken string // for the Ma headers; "" accepts none
	v2        bool   // accept the V2 family (message status callbacks)
	public    *url.URL
	nonces    NonceStore
	window    time.Duration // how long nonces are remembered
}

// Reasons the guard gives for a refusal, for the handlers' logs.
const (
	refusedRequest = "bad method, body or signature"
	refusedReplay  = "replayed nonce"
	refusedStore   = "nonce store failed"
)

// verify checks r's method and signatures and returns its parameters (POST
// form, or query for GET) and the nonces of the signatures that checked
// out, for fresh. On failure it has written the response (403, 405 or 400)
// and returns ok=false and the reason; nothing has changed. Every header
// the guard accepts is checked, each in constant time, and one valid
// signature suffices.
func (g *callbackGuard) verify(w http.ResponseWriter, r *http.Request) (params map[string]string, nonces []string, ok bool, why string) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return nil, nil, false, refusedRequest
	}
	if g.public == nil {
		http.Error(w, "forbidden", http.StatusForbidden)
		return nil, nil, false, refusedRequest
	}
	u := *g.public
	u.RawQuery = r.URL.RawQuery
	params = map[string]string{}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxCallbackBody)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return nil, nil, false, refusedRequest
		}
		params = firstValues(r.PostForm)
	}
	h := r.Header
	if n := h.Get(HeaderNonceV3); n != "" {
		v3 := ValidSignatureV3(g.authToken, r.Method, u.String(), n, h.Get(HeaderSignatureV3), params)
		ma := g.mainToken != "" && ValidSignatureV3(g.mainToken, r.Method, u.String(), n, h.Get(HeaderSignatureMaV3), params)
		if v3 || ma {
			nonces = append(nonces, "v3:"+n)
		}
	}
	if n := h.Get(HeaderNonceV2); g.v2 && n != "" {
		v2 := ValidSignatureV2(g.authToken, u.String(), n, h.Get(HeaderSignatureV2))
		ma := g.mainToken != "" && ValidSignatureV2(g.mainToken, u.String(), n, h.Get(HeaderSignatureMaV2))
		if v2 || ma {
			nonces = append(nonces, "v2:"+n)
		}
	}
	if len(nonces) == 0 {
		http.Error(w, "forbidden", http.StatusForbidden)
		return nil, nil, false, refusedRequest
	}
	if r.Method == http.MethodGet {
		params = firstValues(r.URL.Query())
	}
	return params, nonces, true, ""
}

// fresh records the nonces verify returned and refuses (403) a request
// whose nonce was seen before. A NonceStore error refuses it too: without
// the store a replay cannot be told from a first delivery.
func (g *callbackGuard) fresh(w http.ResponseWriter, r *http.Request, nonces []string) (ok bool, why string) {
	replay := false
	for _, n := range nonces {
		seen, err := g.nonces.Seen(r.Context(), "nonce:"+n, g.window)
		if err != nil {
			http.Error(w, "forbidden", http.StatusForbidden)
			return false, refusedStore
		}
		replay = replay || seen
	}
	if replay {
		http.Error(w, "forbidden", http.StatusForbidden)
		return false, refusedReplay
	}
	return true, ""
}

// Defaults for remembering callback nonces.
const (
	// DefaultNonceWindow is how long a callback's nonce is remembered.
	DefaultNonceWindow = time.Hour
	// DefaultMaxNonces bounds the default in-memory NonceStore.
	DefaultMaxNonces = 100_000
)

// seenSet remembers keys for a while (a window unless told otherwise),
// bounded in size: expired entries and, when full, the oldest ones are
// dropped first. It is safe for concurrent use.
type seenSet struct {
	mu     sync.Mutex
	window time.Duration
	max    int
	now    func() time.Time
	exp    map[string]time.Time
	order  []seenEntry
}

type seenEntry struct {
	key string
	exp time.Time
}

func newSeenSet(window time.Duration, max int, now func() time.Time) *seenSet {
	if window <= 0 {
		window = DefaultNonceWindow
	}
	if max <= 0 {
		max = DefaultMaxNonces
	}
	if now == nil {
		now = time.Now
	}
	return &seenSet{window: window, max: max, now: now, exp: make(map[string]time.Time)}
}

// add records key for the set's window and reports whether it was new
// (or had expired).
func (s *seenSet) add(key string) bool { return s.addFor(key, s.window) }

// addFor is add with a lifetime of ttl (the window if ttl <= 0).
func (s *seenSet) addFor(key string, ttl time.Duration) bool {
	if ttl <= 0 {
		ttl = s.window
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for len(s.order) > 0 && (!now.Before(s.order[0].exp) || len(s.exp) >= s.max) {
		e := s.order[0]
		s.order = s.order[1:]
		if s.exp[e.key].Equal(e.exp) {
			delete(s.exp, e.key)
		}
	}
	if exp, ok := s.exp[key]; ok && now.Before(exp) {
		return false
	}
	exp := now.Add(ttl)
	s.exp[key] = exp
	s.order = append(s.order, seenEntry{key, exp})
	return true
}
