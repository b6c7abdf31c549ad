package plivoadapter

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/plivo/plivo-go/v7"

	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store"
)

// LineType is the carrier.type of a Plivo Lookup answer: "fixed",
// "mobile", "voip", "toll-free" or "unknown"
// (https://www.plivo.com/docs/lookup/api/lookup-phone-number, Carrier
// Object).
type LineType string

// The line types Plivo Lookup documents.
const (
	LineMobile   LineType = "mobile"
	LineFixed    LineType = "fixed"
	LineVoIP     LineType = "voip"
	LineTollFree LineType = "toll-free"
	LineUnknown  LineType = "unknown"
)

// lineTypes is the order of the cache's counter fields; the last field
// marks an answer without a carrier name.
var lineTypes = []LineType{LineMobile, LineFixed, LineVoIP, LineTollFree, LineUnknown}

const fieldNoCarrier = 5

// ErrLineRefused reports a number whose line type (or unknown carrier) the
// Lookup options refuse for the channel; the error is a *LineError.
var ErrLineRefused = errors.New("plivoadapter: line type refused")

// LineError is returned by Lookup.Check for a refused number. It holds no
// part of the number.
type LineError struct {
	Type    LineType
	Channel sender.Channel
	// NoCarrier is true when the refusal is for an unknown carrier
	// (WithRefuseUnknownCarrier).
	NoCarrier bool
}

// Error implements error.
func (e *LineError) Error() string {
	if e.NoCarrier {
		return fmt.Sprintf("plivoadapter: unknown carrier refused for %s", e.Channel)
	}
	return fmt.Sprintf("plivoadapter: %s line refused for %s", e.Type, e.Channel)
}

// Is makes errors.Is(err, ErrLineRefused) true.
func (e *LineError) Is(target error) bool { return target == ErrLineRefused }

// Line is what Plivo Lookup says of a number.
type Line struct {
	Type LineType
	// Carrier is the carrier's name, from Plivo (a cached answer keeps
	// only whether it was known: see NoCarrier).
	Carrier string
	// NoCarrier is true when Plivo named no carrier.
	NoCarrier bool
	// Cached is true when the answer came from the cache.
	Cached bool
}

// Lookup checks numbers with Plivo's Lookup API before a code is sent.
// It is safe for concurrent use.
//
// Wire it to otp.Config.BeforeSend (plivoadapter does not import otp):
//
//	lk, err := plivoadapter.NewLookup(cfg, plivoadapter.WithCache(st, secret))
//	...
//	BeforeSend: func(ctx context.Context, r otp.SendRequest) error {
//		return lk.Check(ctx, r.Number.E164, r.Channel)
//	},
type Lookup struct {
	client  *plivo.Client
	api     api
	refuse  map[sender.Channel][]LineType
	unknown bool
	open    bool
	cache   store.Counters
	key     []byte
	series  []store.Series
	now     func() time.Time
}

// NewLookup returns a Lookup for the account in c (Number is not needed).
// It accepts WithRefuseSMS, WithRefuseCall, WithRefuseUnknownCarrier,
// WithFailOpen, WithCache, WithCacheTTL and WithClock. Errors wrap
// ErrInvalidConfig and name the bad setting.
func NewLookup(c Config, opts ...Option) (*Lookup, error) {
	o, err := collect("NewLookup", lookupOptions, opts)
	if err != nil {
		return nil, err
	}
	if c.AuthID == "" || c.AuthToken == "" {
		return nil, fmt.Errorf("%w: AuthID and AuthToken are required", ErrInvalidConfig)
	}
	l := &Lookup{refuse: map[sender.Channel][]LineType{
		sender.SMS:  {LineFixed, LineVoIP, LineTollFree},
		sender.Call: o.refuseCall,
	}, unknown: o.refuseUnknown, open: o.failOpen}
	if o.has(optRefuseSMS) {
		l.refuse[sender.SMS] = o.refuseSMS
	}
	for _, r := range []struct {
		ch sender.Channel
		id optionID
	}{{sender.SMS, optRefuseSMS}, {sender.Call, optRefuseCall}} {
		ch, id := r.ch, r.id
		for _, t := range l.refuse[ch] {
			if !slices.Contains(lineTypes, t) {
				return nil, invalid(id, "unknown line type %q", clip(string(t)))
			}
		}
	}
	if l.now, err = o.clock(); err != nil {
		return nil, err
	}
	if o.has(optCacheTTL) && !o.has(optCache) {
		return nil, fmt.Errorf("%w: %s needs %s", ErrInvalidConfig, optCacheTTL, optCache)
	}
	if o.has(optCache) {
		if o.cache == nil {
			return nil, invalid(optCache, "nil store")
		}
		if len(o.cacheSecret) < 32 {
			return nil, invalid(optCache, "the secret must be at least 32 bytes")
		}
		ttl := 24 * time.Hour
		if o.has(optCacheTTL) {
			ttl = o.cacheTTL
		}
		if ttl < 4*time.Second {
			return nil, invalid(optCacheTTL, "must be at least 4s")
		}
		l.cache = o.cache
		// An answer is written in the bucket of its lookup and read from
		// the last five buckets: kept at least four, at most five
		// quarters of the TTL.
		l.series = []store.Series{{Width: (ttl / 4).Truncate(time.Millisecond), Len: 5}}
		m := hmac.New(sha256.New, o.cacheSecret)
		m.Write([]byte("go2fa/v1/plivo-lookup"))
		l.key = m.Sum(nil)
	}
	if l.client, l.api, err = newRESTClient(c); err != nil {
		return nil, err
	}
	return l, nil
}

// Check looks the number up (or reads the cache) and returns a *LineError
// (ErrLineRefused) when its line type or carrier is refused for ch. A
// failed lookup returns its error (an *Error for Plivo's), or nil with
// WithFailOpen.
func (l *Lookup) Check(ctx context.Context, e164 string, ch sender.Channel) error {
	line, err := l.Line(ctx, e164)
	if err != nil {
		if l.open {
			return nil
		}
		return err
	}
	if l.unknown && (line.NoCarrier || line.Type == LineUnknown) {
		return &LineError{Type: line.Type, Channel: ch, NoCarrier: true}
	}
	if slices.Contains(l.refuse[ch], line.Type) {
		return &LineError{Type: line.Type, Channel: ch}
	}
	return nil
}

// Line returns what Plivo Lookup says of an E.164 number, from the cache
// when it holds the number.
func (l *Lookup) Line(ctx context.Context, e164 string) (Line, error) {
	if !isPhone(e164) || e164[0] != '+' {
		return Line{}, &Error{Op: "lookup", Message: "not an E.164 number"}
	}
	var key string
	if l.cache != nil {
		m := hmac.New(sha256.New, l.key)
		m.Write([]byte(e164))
		key = "lk" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
		c, err := l.cache.AddCounts(ctx, store.CountRequest{Key: key, Now: l.now(), Add: make([]int64, len(lineTypes)+1), Series: l.series})
		if err != nil {
			return Line{}, &Error{Op: "lookup cache", Err: err, temporary: true}
		}
		if line, ok := cached(c); ok {
			return line, nil
		}
	}
	line, err := l.fetch(ctx, e164)
	if err != nil {
		return Line{}, err
	}
	if l.cache != nil {
		add := make([]int64, len(lineTypes)+1)
		add[slices.Index(lineTypes, line.Type)] = 1
		if line.NoCarrier {
			add[fieldNoCarrier] = 1
		}
		if _, err := l.cache.AddCounts(ctx, store.CountRequest{Key: key, Now: l.now(), Add: add, Series: l.series}); err != nil {
			return Line{}, &Error{Op: "lookup cache", Err: err, temporary: true}
		}
	}
	return line, nil
}

// cached reads a cache entry. Fields count answers per line type; when
// answers disagree (a number ported between two lookups by concurrent
// instances), the least trusted type wins.
func cached(c store.Counts) (Line, bool) {
	var sum [6]int64
	for _, v := range c.Values[0] {
		for f := range sum {
			sum[f] += v[f]
		}
	}
	line, found := Line{Cached: true}, false
	for _, i := range []int{0, 3, 1, 2, 4} { // mobile < toll-free < fixed < voip < unknown
		if sum[i] > 0 {
			line.Type, found = lineTypes[i], true
		}
	}
	line.NoCarrier = sum[fieldNoCarrier] > 0
	return line, found
}

// fetch is plivo-go v7.60.2's LookupService.Get (lookup.go:53-71: GET
// v1/Number/{number}?type=carrier, which BaseClient.ExecuteRequest re-hosts
// from api.plivo.com to lookup.plivo.com for "is_lookup_request",
// baseclient.go:117-122): the request is built by plivo-go, re-hosted here
// the same way and sent once (Config.APIURL, when set, takes the host). The
// number goes through a "%s" format rather than as the format itself, as
// Get passes it.
func (l *Lookup) fetch(ctx context.Context, e164 string) (Line, error) {
	req, err := l.client.BaseClient.NewRequest(http.MethodGet, plivo.LookupParams{Type: "carrier"}, "v1/Number/%s", "%s", e164)
	if err != nil {
		return Line{}, &Error{Op: "lookup", Err: err}
	}
	req.URL.Host = "lookup.plivo.com"
	var out plivo.LookupResponse
	if _, err := l.api.do(ctx, "lookup", req, &out); err != nil {
		return Line{}, err
	}
	if out.Carrier == nil {
		return Line{}, &Error{Op: "lookup", StatusCode: 200, APIID: cleanAPIID(out.ApiID), Message: "answer without carrier", temporary: true}
	}
	t := LineType(out.Carrier.Type)
	if !slices.Contains(lineTypes, t) {
		t = LineUnknown
	}
	return Line{Type: t, Carrier: out.Carrier.Name, NoCarrier: out.Carrier.Name == ""}, nil
}
