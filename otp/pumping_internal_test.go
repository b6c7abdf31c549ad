package otp

import "testing"

func TestPrefixOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		e164  string
		depth int
		want  string
	}{
		{"+14152001234", 4, "+1 4152"},
		{"+447700900123", 4, "+44 7700"},
		{"+998901234567", 2, "+998 90"},
		{"+2905123", 6, "+290 5"}, // Saint Helena, 4-digit national numbers: 3 digits always hidden
		{"+14152001234", 6, "+1 415200"},
		{"+0123", 4, ""},
	} {
		if got := prefixOf(tc.e164, tc.depth); got != tc.want {
			t.Errorf("prefixOf(%q, %d) = %q, want %q", tc.e164, tc.depth, got, tc.want)
		}
	}
}
