// Package ascii holds the string checks that go2fa's packages share: a test
// for ASCII digit strings and a bounded form of untrusted text for error
// messages. It imports only the standard library, so sender, store/* and
// plivoadapter can use it without depending on one another.
package ascii

// Digits reports whether s is non-empty and made only of the ASCII digits
// 0 to 9 (no sign, space or other Unicode digit).
func Digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Truncate returns s when it has at most n runes, and otherwise its first n
// runes followed by "…", so that an error quoting untrusted input stays
// short. It never splits a UTF-8 sequence; invalid bytes count as one rune
// each.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for i := range s {
		if n <= 0 {
			return s[:i] + "…"
		}
		n--
	}
	return s
}
