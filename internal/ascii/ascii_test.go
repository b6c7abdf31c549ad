package ascii

import "testing"

func TestDigits(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"0": true, "0123456789": true,
		"": false, "+1": false, "12 3": false, "12a": false, "-1": false, "١٢٣": false, "12\x00": false, "/": false, ":": false,
	} {
		if got := Digits(s); got != want {
			t.Errorf("Digits(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc…"},
		{"ééé", 3, "ééé"},   // 6 bytes, 3 runes: kept whole
		{"éééé", 3, "ééé…"}, // cut between runes, never inside one
		{"a\xffbc", 2, "a\xff…"},
		{"abc", 0, "…"},
		{"abc", -1, "…"},
	} {
		if got := Truncate(tc.s, tc.n); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
