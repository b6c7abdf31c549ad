package plivotest

import (
	"net/http"
	"strings"
	"sync"
)

// Line is what the fake's Lookup API answers for a number: the carrier
// object of https://www.plivo.com/docs/lookup/api/lookup-phone-number
// (type is "fixed", "mobile", "voip", "toll-free" or "unknown").
type Line struct {
	Type    string
	Carrier string // the carrier name; empty for an unknown carrier
	MCC     string // mobile_country_code, empty for fixed numbers
	MNC     string // mobile_network_code, empty for fixed numbers
}

// DefaultLine is the answer for a number no SetLine call named.
var DefaultLine = Line{Type: "mobile", Carrier: "Fake Mobile", MCC: "310", MNC: "260"}

// lines holds each Server's SetLine answers, beside the Server so that the
// lookup fake stays in this file.
var lines sync.Map // *Server -> *lineTable

type lineTable struct {
	mu sync.Mutex
	m  map[string]Line
}

func (s *Server) lineTable() *lineTable {
	t, _ := lines.LoadOrStore(s, &lineTable{m: map[string]Line{}})
	return t.(*lineTable)
}

// SetLine makes the Lookup API answer l for the E.164 number n.
func (s *Server) SetLine(n string, l Line) {
	t := s.lineTable()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m["+"+strings.TrimPrefix(n, "+")] = l
}

// Lookups returns the numbers looked up, in order.
func (s *Server) Lookups() []string {
	var out []string
	for _, r := range s.Requests() {
		if r.Host == "lookup.plivo.com" && r.Status == http.StatusOK {
			out = append(out, strings.TrimPrefix(r.Path, "/v1/Number/"))
		}
	}
	return out
}

// lookup answers GET https://lookup.plivo.com/v1/Number/{PhoneNumber}?type=carrier
// with the documented shape (https://www.plivo.com/docs/lookup/api/lookup-phone-number:
// api_id, phone_number, country{name, iso2, iso3}, format{e164, national,
// international, rfc3966}, carrier{mobile_country_code,
// mobile_network_code, name, type, ported}, resource_uri), which is also
// what plivo-go v7.60.2 decodes (lookup.go, LookupResponse). Errors carry
// the documented api_id, error_code and message. The fake knows no
// country names or national formats: it fills those fields with
// placeholders.
func (s *Server) lookup(r *http.Request, parts []string) (int, any) {
	if r.Method != http.MethodGet || len(parts) != 3 || parts[0] != "v1" || parts[1] != "Number" {
		return lookupError(404, 404, "resource not found")
	}
	if r.URL.Query().Get("type") != "carrier" {
		return lookupError(400, 400, "type must be carrier")
	}
	n := parts[2]
	if !strings.HasPrefix(n, "+") || !validNumber(n) {
		return lookupError(404, 404, "phone number is invalid")
	}
	t := s.lineTable()
	t.mu.Lock()
	l, ok := t.m[n]
	t.mu.Unlock()
	if !ok {
		l = DefaultLine
	}
	ported := "unknown"
	return 200, map[string]any{
		"api_id":       newUUID(),
		"phone_number": n,
		"country":      map[string]any{"name": "Fakeland", "iso2": "ZZ", "iso3": "ZZZ"},
		"format": map[string]any{
			"e164": n, "national": n[1:], "international": n, "rfc3966": "tel:" + n,
		},
		"carrier": map[string]any{
			"mobile_country_code": l.MCC,
			"mobile_network_code": l.MNC,
			"name":                l.Carrier,
			"type":                l.Type,
			"ported":              ported,
		},
		"resource_uri": "/v1/Number/" + n + "?type=carrier",
	}
}

func lookupError(status, code int, msg string) (int, any) {
	return status, map[string]any{"api_id": newUUID(), "error_code": code, "message": msg}
}
