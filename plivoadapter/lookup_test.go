package plivoadapter_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/internal/testclock"
	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/memstore"
)

var lookupSecret = []byte("0123456789abcdef0123456789abcdef")

func newLookup(t *testing.T, srv *plivotest.Server, opts ...plivoadapter.Option) *plivoadapter.Lookup {
	t.Helper()
	l, err := plivoadapter.NewLookup(config(srv), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLookupRequestShape(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	l := newLookup(t, srv)
	line, err := l.Line(t.Context(), dest)
	if err != nil {
		t.Fatal(err)
	}
	if line.Type != plivoadapter.LineMobile || line.Carrier != plivotest.DefaultLine.Carrier || line.Cached {
		t.Errorf("Line = %+v, want the fake's default mobile line", line)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	// https://www.plivo.com/docs/lookup/api/lookup-phone-number:
	// GET https://lookup.plivo.com/v1/Number/{PhoneNumber}?type=carrier,
	// HTTP Basic authentication.
	if r.Method != http.MethodGet || r.Host != "lookup.plivo.com" || r.Path != "/v1/Number/"+dest || r.Query != "type=carrier" {
		t.Errorf("request = %s %s%s?%s, want GET lookup.plivo.com/v1/Number/%s?type=carrier", r.Method, r.Host, r.Path, r.Query, dest)
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") {
		t.Error("request without basic authentication")
	}
}

func TestLookupCheck(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	numbers := map[string]plivotest.Line{
		"+14155550101": {Type: "voip", Carrier: "Bandwidth"},
		"+14155550102": {Type: "fixed", Carrier: "AT&T"},
		"+14155550103": {Type: "toll-free", Carrier: "Lumen"},
		"+14155550104": {Type: "mobile"}, // no carrier name
		"+14155550105": {Type: "unknown", Carrier: "Somebody"},
		"+14155550106": {Type: "pager", Carrier: "Undocumented"},
	}
	for n, l := range numbers {
		srv.SetLine(n, l)
	}
	def := newLookup(t, srv)
	strict := newLookup(t, srv, plivoadapter.WithRefuseUnknownCarrier(), plivoadapter.WithRefuseCall(plivoadapter.LineVoIP))
	for _, tc := range []struct {
		l      *plivoadapter.Lookup
		name   string
		to     string
		ch     sender.Channel
		refuse plivoadapter.LineType // "" = allowed
	}{
		{def, "mobile sms", dest, sender.SMS, ""},
		{def, "voip sms", "+14155550101", sender.SMS, plivoadapter.LineVoIP},
		{def, "voip call", "+14155550101", sender.Call, ""},
		{def, "fixed sms", "+14155550102", sender.SMS, plivoadapter.LineFixed},
		{def, "fixed call", "+14155550102", sender.Call, ""},
		{def, "toll-free sms", "+14155550103", sender.SMS, plivoadapter.LineTollFree},
		{def, "no carrier, default", "+14155550104", sender.SMS, ""},
		{def, "unknown type, default", "+14155550105", sender.SMS, ""},
		{strict, "no carrier, strict", "+14155550104", sender.SMS, plivoadapter.LineMobile},
		{strict, "unknown type, strict", "+14155550105", sender.Call, plivoadapter.LineUnknown},
		{strict, "undocumented type reads as unknown", "+14155550106", sender.SMS, plivoadapter.LineUnknown},
		{strict, "voip call, strict", "+14155550101", sender.Call, plivoadapter.LineVoIP},
	} {
		err := tc.l.Check(t.Context(), tc.to, tc.ch)
		var le *plivoadapter.LineError
		switch {
		case tc.refuse == "" && err != nil:
			t.Errorf("%s: %v, want allowed", tc.name, err)
		case tc.refuse != "" && (!errors.Is(err, plivoadapter.ErrLineRefused) || !errors.As(err, &le) || le.Type != tc.refuse):
			t.Errorf("%s: %v, want a %s line refused", tc.name, err, tc.refuse)
		case err != nil && strings.Contains(err.Error(), "4155"):
			t.Errorf("%s: error %q shows the number", tc.name, err)
		}
	}
}

func TestLookupCache(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	clk := testclock.New()
	ms := memstore.New(memstore.WithClock(clk.Now))
	t.Cleanup(func() { ms.Close() })
	srv.SetLine(dest, plivotest.Line{Type: "voip", Carrier: "Bandwidth"})
	o := []plivoadapter.Option{plivoadapter.WithCache(ms, lookupSecret), plivoadapter.WithCacheTTL(time.Hour), plivoadapter.WithClock(clk.Now)}
	a, b := newLookup(t, srv, o...), newLookup(t, srv, o...) // two instances, one store
	for i, l := range []*plivoadapter.Lookup{a, b, a} {
		if err := l.Check(t.Context(), dest, sender.SMS); !errors.Is(err, plivoadapter.ErrLineRefused) {
			t.Fatalf("check %d: %v, want refused", i, err)
		}
	}
	if got := len(srv.Lookups()); got != 1 {
		t.Errorf("%d lookups for three checks within the TTL, want 1", got)
	}
	line, err := b.Line(t.Context(), dest)
	if err != nil || !line.Cached || line.Type != plivoadapter.LineVoIP {
		t.Errorf("cached Line = %+v, %v; want voip from the cache", line, err)
	}
	// Still cached just before the TTL, looked up again after 1.25 TTL.
	clk.Advance(59 * time.Minute)
	if err := a.Check(t.Context(), dest, sender.SMS); !errors.Is(err, plivoadapter.ErrLineRefused) {
		t.Fatalf("check after 59 minutes: %v, want refused", err)
	}
	if got := len(srv.Lookups()); got != 1 {
		t.Errorf("%d lookups after 59 minutes, want 1", got)
	}
	clk.Advance(time.Hour)
	srv.SetLine(dest, plivotest.Line{Type: "mobile", Carrier: "T-Mobile"})
	if err := a.Check(t.Context(), dest, sender.SMS); err != nil {
		t.Errorf("after the TTL: %v, want the new (mobile) answer", err)
	}
	if got := len(srv.Lookups()); got != 2 {
		t.Errorf("%d lookups after the TTL, want 2", got)
	}
	// The cache holds no number: its key is an HMAC.
	c, err := ms.AddCounts(t.Context(), store.CountRequest{Key: dest, Now: clk.Now(), Add: make([]int64, 6), Series: []store.Series{{Width: 15 * time.Minute, Len: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range c.Values[0] {
		for _, n := range v {
			if n != 0 {
				t.Fatal("the cache is keyed by the number in clear")
			}
		}
	}
}

func TestLookupFailure(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	closed := newLookup(t, srv)
	open := newLookup(t, srv, plivoadapter.WithFailOpen())
	srv.Fail(plivotest.ServerError)
	err := closed.Check(t.Context(), dest, sender.SMS)
	var pe *plivoadapter.Error
	if !errors.As(err, &pe) || pe.StatusCode != 500 || !errors.Is(err, plivoadapter.ErrTransient) {
		t.Errorf("Check with Plivo down = %v, want a transient *Error with status 500", err)
	}
	if err := open.Check(t.Context(), dest, sender.SMS); err != nil {
		t.Errorf("FailOpen: %v, want nil", err)
	}
	srv.Fail(plivotest.None)
	// An invalid number: the documented 404 error body.
	err = closed.Check(t.Context(), "+123456", sender.SMS)
	if !errors.As(err, &pe) || pe.StatusCode != 404 || !errors.Is(err, plivoadapter.ErrPermanent) {
		t.Errorf("Check of an invalid number = %v, want a permanent *Error with status 404", err)
	}
	// A cancelled context fails without a request.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	n := srv.RequestCount()
	if err := closed.Check(ctx, dest, sender.SMS); !errors.Is(err, context.Canceled) || srv.RequestCount() != n {
		t.Errorf("cancelled: %v after %d requests, want context.Canceled and none", err, srv.RequestCount()-n)
	}
	if err := closed.Check(t.Context(), "14155550100", sender.SMS); err == nil {
		t.Error("a number without + was looked up")
	}
}

func TestNewLookupConfig(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	ms := memstore.New()
	t.Cleanup(func() { ms.Close() })
	for name, tc := range map[string]struct {
		opts   []plivoadapter.Option
		option string
	}{
		"unknown line type": {[]plivoadapter.Option{plivoadapter.WithRefuseSMS("landline")}, "WithRefuseSMS"},
		"cache no secret":   {[]plivoadapter.Option{plivoadapter.WithCache(ms, nil)}, "WithCache"},
		"cache nil store":   {[]plivoadapter.Option{plivoadapter.WithCache(nil, lookupSecret)}, "WithCache"},
		"cache short ttl":   {[]plivoadapter.Option{plivoadapter.WithCache(ms, lookupSecret), plivoadapter.WithCacheTTL(time.Second)}, "WithCacheTTL"},
		"ttl without cache": {[]plivoadapter.Option{plivoadapter.WithCacheTTL(time.Hour)}, "WithCacheTTL"},
	} {
		if _, err := plivoadapter.NewLookup(config(srv), tc.opts...); !errors.Is(err, plivoadapter.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.option) {
			t.Errorf("%s: %v, want ErrInvalidConfig naming %s", name, err, tc.option)
		}
	}
	if _, err := plivoadapter.NewLookup(plivoadapter.Config{}); !errors.Is(err, plivoadapter.ErrInvalidConfig) {
		t.Errorf("empty Config: %v, want ErrInvalidConfig", err)
	}
}
