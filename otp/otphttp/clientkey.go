package otphttp

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ErrNoClientKey reports a request from which no client key can be
// derived: no trusted header holds an address and RemoteAddr is not an IP
// address (a unix-socket listener, for example). The Handler refuses such
// requests instead of serving them without a per-client budget; give it
// WithClientKey or WithTrustedHeader.
var ErrNoClientKey = errors.New("otphttp: no client key")

// ClientKey returns the per-client limit key of r: "ip:" and the client's
// IP address, or its /64 network for IPv6. It is for services that apply
// go2fa's limits without mounting a Handler (pass the key to
// otp.WithLimitKey); it is safe for concurrent use.
//
// With trustedHeader empty the address is r.RemoteAddr. Otherwise only the
// entry the nearest proxy appended is read, never one further left, which
// the client may have written:
//
//   - "Forwarded" (RFC 7239): the for= parameter of the last element, a
//     bare or quoted address, IPv6 in brackets, with or without a port;
//     "unknown" and obfuscated identifiers ("_hidden") carry no address;
//   - any other name (X-Forwarded-For, X-Real-IP): the last comma-separated
//     entry of the last line, an address with or without brackets and a
//     port.
//
// When that entry holds no address, r.RemoteAddr (the proxy) is used. Name
// a header only when every request reaches the service through a proxy you
// control that appends to it (or sets it), or any client can choose its key.
// When no address can be read, ClientKey returns an error wrapping
// ErrNoClientKey.
func ClientKey(r *http.Request, trustedHeader string) (string, error) {
	if trustedHeader != "" {
		if a, ok := headerAddr(r.Header, http.CanonicalHeaderKey(trustedHeader)); ok {
			return addrKey(a), nil
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return "", fmt.Errorf("%w: the remote address is not an IP address (set a key function or a trusted header)", ErrNoClientKey)
	}
	return addrKey(a), nil
}

func addrKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return "ip:" + p.String()
		}
	}
	return "ip:" + a.String()
}

// headerAddr reads the address the nearest proxy put in header name.
func headerAddr(h http.Header, name string) (netip.Addr, bool) {
	lines := h.Values(name)
	if len(lines) == 0 {
		return netip.Addr{}, false
	}
	last := lines[len(lines)-1]
	if name == "Forwarded" {
		return forwardedFor(last)
	}
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return parseNode(strings.TrimSpace(last))
}

// forwardedFor returns the for= address of the last element of an RFC 7239
// Forwarded field value. Commas and semicolons inside quoted strings do not
// separate.
func forwardedFor(v string) (netip.Addr, bool) {
	elems := splitQuoted(v, ',')
	if len(elems) == 0 {
		return netip.Addr{}, false
	}
	for _, pair := range splitQuoted(elems[len(elems)-1], ';') {
		k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "for") {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = strings.ReplaceAll(val[1:len(val)-1], `\`, "")
		}
		return parseNode(val)
	}
	return netip.Addr{}, false
}

// splitQuoted splits s at sep outside double-quoted strings.
func splitQuoted(s string, sep byte) []string {
	var out []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case c == '\\' && quoted:
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// parseNode reads an address written as "a.b.c.d", "a.b.c.d:port", an
// IPv6 address, or "[v6]" with an optional ":port".
func parseNode(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 || !validPort(s[end+1:]) {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(s[1:end])
		return a, err == nil && a.Is6()
	}
	if strings.Count(s, ":") == 1 {
		host, port, _ := strings.Cut(s, ":")
		if !validPort(":" + port) {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(host)
		return a, err == nil && a.Is4()
	}
	a, err := netip.ParseAddr(s)
	return a, err == nil
}

// validPort accepts "" or ":" followed by 1 to 5 digits.
func validPort(s string) bool {
	if s == "" {
		return true
	}
	if s[0] != ':' || len(s) < 2 || len(s) > 6 {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
