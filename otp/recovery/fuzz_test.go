package recovery_test

import (
	"strings"
	"testing"

	"github.com/go2fa/go2fa/otp/recovery"
)

// FuzzCanonical: any typed input is either refused or read as ten
// characters of the alphabet, which read back as themselves.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"abcde-fghjk", "ABCDE FGHJK", "lOg4o-G4iol", "abcde-fghju", "", "-",
		"abcdé-fghjk", strings.Repeat(" ", 70) + "abcdefghjk", "abcde\x00fghjk"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		c, ok := recovery.Canonical(typed)
		if !ok {
			return
		}
		for _, b := range c {
			if strings.IndexByte(recovery.Alphabet, b) < 0 {
				t.Fatalf("Canonical(%q) = %q: not in the alphabet", typed, c)
			}
		}
		if again, ok := recovery.Canonical(string(c[:])); !ok || again != c {
			t.Fatalf("Canonical(%q) = %q does not read back", typed, c)
		}
	})
}
