package totp_test

import (
	"bytes"
	"testing"

	"github.com/go2fa/go2fa/otp/totp"
)

// FuzzParseURI checks that ParseURI never panics and that every URI it
// accepts survives URI and ParseURI again unchanged.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"otpauth://totp/ACME%20Co:jane@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30",
		"otpauth://totp/jane?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
		"otpauth://totp/A%3A%20%20b?secret=gezdgnbvgy3tqojqgezdgnbvgy3tqojq===&digits=08&period=060&algorithm=sha512",
		"otpauth://totp/%E6%97%A5:%00%FF?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=%E6%97%A5",
		"otpauth://hotp/x?secret=AAAA",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		k, err := totp.ParseURI(uri)
		if err != nil {
			return
		}
		again, err := totp.ParseURI(k.URI())
		if err != nil {
			t.Fatalf("ParseURI(%q) = %v, but ParseURI of its URI %q: %v", uri, k, k.URI(), err)
		}
		if again.Issuer != k.Issuer || again.Account != k.Account || !bytes.Equal(again.Secret, k.Secret) ||
			again.Algorithm != k.Algorithm || again.Digits != k.Digits || again.Period != k.Period {
			t.Fatalf("round trip of %q changed the key:\n%v\n%v", uri, k, again)
		}
	})
}
