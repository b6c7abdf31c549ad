package totp_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/go2fa/go2fa/otp/totp"
)

var rfcSecret = []byte("12345678901234567890")

func TestNewKeyReadsSecretFromRand(t *testing.T) {
	t.Parallel()
	src := bytes.Repeat([]byte{0xA5}, 100)
	for _, tc := range []struct {
		size, want int
	}{{0, 20}, {20, 20}, {32, 32}, {64, 64}} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			t.Parallel()
			k, err := totp.NewKey(totp.KeyConfig{Issuer: "ACME", Account: "jane", SecretSize: tc.size, Rand: bytes.NewReader(src)})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k.Secret, src[:tc.want]) {
				t.Errorf("Secret = %x, want %d bytes from Rand", k.Secret, tc.want)
			}
			if b := k.Base32(); strings.Contains(b, "=") || len(b) != (tc.want*8+4)/5 {
				t.Errorf("Base32() = %q: want %d characters, no padding", b, (tc.want*8+4)/5)
			}
		})
	}
}

func TestGenerateIsRandom(t *testing.T) {
	t.Parallel()
	a, err := totp.Generate("ACME", "jane")
	if err != nil {
		t.Fatal(err)
	}
	b, err := totp.Generate("ACME", "jane")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Secret) != totp.DefaultSecretSize || len(a.Secret)*8 < 160 {
		t.Errorf("secret is %d bytes, want %d (160 bits)", len(a.Secret), totp.DefaultSecretSize)
	}
	if bytes.Equal(a.Secret, b.Secret) {
		t.Error("two Generate calls made the same secret")
	}
	if a.Issuer != "ACME" || a.Account != "jane" || a.Algorithm != totp.SHA1 || a.Digits != 0 || a.Period != 0 {
		t.Errorf("Generate = %v, want ACME/jane with default parameters", a)
	}
}

func TestNewKeyErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts totp.KeyConfig
		want error
	}{
		{"no issuer", totp.KeyConfig{Account: "jane"}, totp.ErrInvalidLabel},
		{"no account", totp.KeyConfig{Issuer: "ACME"}, totp.ErrInvalidLabel},
		{"colon in issuer", totp.KeyConfig{Issuer: "AC:ME", Account: "jane"}, totp.ErrInvalidLabel},
		{"colon in account", totp.KeyConfig{Issuer: "ACME", Account: "ja:ne"}, totp.ErrInvalidLabel},
		{"account starts with a space", totp.KeyConfig{Issuer: "ACME", Account: " jane"}, totp.ErrInvalidLabel},
		{"secret below 160 bits", totp.KeyConfig{Issuer: "ACME", Account: "jane", SecretSize: 19}, totp.ErrInvalidSecret},
		{"secret too long", totp.KeyConfig{Issuer: "ACME", Account: "jane", SecretSize: 65}, totp.ErrInvalidSecret},
		{"digits 5", totp.KeyConfig{Issuer: "ACME", Account: "jane", Digits: 5}, totp.ErrInvalidDigits},
		{"digits 9", totp.KeyConfig{Issuer: "ACME", Account: "jane", Digits: 9}, totp.ErrInvalidDigits},
		{"algorithm", totp.KeyConfig{Issuer: "ACME", Account: "jane", Algorithm: 3}, totp.ErrInvalidAlgorithm},
		{"period", totp.KeyConfig{Issuer: "ACME", Account: "jane", Period: 1500 * time.Millisecond}, totp.ErrInvalidPeriod},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k, err := totp.NewKey(tc.opts)
			if !errors.Is(err, tc.want) {
				t.Errorf("NewKey error = %v, want %v", err, tc.want)
			}
			if k.Secret != nil {
				t.Errorf("NewKey returned a secret with an error")
			}
		})
	}
	t.Run("rand fails", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("boom")
		_, err := totp.NewKey(totp.KeyConfig{Issuer: "ACME", Account: "jane", Rand: iotest.ErrReader(boom)})
		if !errors.Is(err, boom) {
			t.Errorf("NewKey error = %v, want it to wrap %v", err, boom)
		}
		_, err = totp.NewKey(totp.KeyConfig{Issuer: "ACME", Account: "jane", Rand: bytes.NewReader(make([]byte, 19))})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("NewKey with a short Rand: error = %v, want io.ErrUnexpectedEOF", err)
		}
	})
}

func TestKeyParameterErrors(t *testing.T) {
	t.Parallel()
	at := time.Unix(1111111109, 0)
	for _, tc := range []struct {
		name string
		key  totp.Key
		want error
	}{
		{"no secret", totp.Key{}, totp.ErrInvalidSecret},
		{"secret below 128 bits", totp.Key{Secret: rfcSecret[:15]}, totp.ErrInvalidSecret},
		{"digits 5", totp.Key{Secret: rfcSecret, Digits: 5}, totp.ErrInvalidDigits},
		{"digits 9", totp.Key{Secret: rfcSecret, Digits: 9}, totp.ErrInvalidDigits},
		{"digits -6", totp.Key{Secret: rfcSecret, Digits: -6}, totp.ErrInvalidDigits},
		{"algorithm -1", totp.Key{Secret: rfcSecret, Algorithm: -1}, totp.ErrInvalidAlgorithm},
		{"algorithm 3", totp.Key{Secret: rfcSecret, Algorithm: 3}, totp.ErrInvalidAlgorithm},
		{"period negative", totp.Key{Secret: rfcSecret, Period: -30 * time.Second}, totp.ErrInvalidPeriod},
		{"period fractional", totp.Key{Secret: rfcSecret, Period: 30*time.Second + 1}, totp.ErrInvalidPeriod},
		{"period under 1s", totp.Key{Secret: rfcSecret, Period: time.Millisecond}, totp.ErrInvalidPeriod},
		{"period over 24h", totp.Key{Secret: rfcSecret, Period: 25 * time.Hour}, totp.ErrInvalidPeriod},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if code, err := tc.key.Code(at); !errors.Is(err, tc.want) || code != "" {
				t.Errorf("Code = %q, %v; want \"\", %v", code, err, tc.want)
			}
			if code, err := tc.key.HOTP(1); !errors.Is(err, tc.want) || code != "" {
				t.Errorf("HOTP = %q, %v; want \"\", %v", code, err, tc.want)
			}
		})
	}
	t.Run("before epoch", func(t *testing.T) {
		t.Parallel()
		if _, err := (totp.Key{Secret: rfcSecret}).Code(time.Unix(-1, 0)); !errors.Is(err, totp.ErrInvalidTime) {
			t.Errorf("Code(-1s) error = %v, want %v", err, totp.ErrInvalidTime)
		}
	})
}

func TestCodeDefaultsAndPeriod(t *testing.T) {
	t.Parallel()
	k := totp.Key{Secret: rfcSecret}
	// RFC 6238 at 1111111109 is 07081804 with 8 digits; 6 digits keep the
	// low six.
	if got, err := k.Code(time.Unix(1111111109, 0)); err != nil || got != "081804" {
		t.Errorf("Code = %q, %v; want 081804", got, err)
	}
	// 7 digits.
	k7 := totp.Key{Secret: rfcSecret, Digits: 7}
	if got, err := k7.Code(time.Unix(1111111109, 0)); err != nil || got != "7081804" {
		t.Errorf("7-digit Code = %q, %v; want 7081804", got, err)
	}
	// With a 60 s period, time 2*1111111109 is in the same step number as
	// 1111111109 with 30 s.
	k60 := totp.Key{Secret: rfcSecret, Period: time.Minute}
	if got, err := k60.Code(time.Unix(2*1111111109, 0)); err != nil || got != "081804" {
		t.Errorf("60s Code = %q, %v; want 081804", got, err)
	}
	// Codes change at step boundaries, not within a step.
	a, _ := k.Code(time.Unix(60, 0))
	b, _ := k.Code(time.Unix(89, 999))
	c, _ := k.Code(time.Unix(90, 0))
	if a != b || a == c {
		t.Errorf("codes at 60s, 89s, 90s = %s, %s, %s; want the first two equal and the third different", a, b, c)
	}
}

func TestURI(t *testing.T) {
	t.Parallel()
	k := totp.Key{Issuer: "ACME Co", Account: "jane@example.com", Secret: rfcSecret}
	const want = "otpauth://totp/ACME%20Co:jane@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30"
	if got := k.URI(); got != want {
		t.Errorf("URI() =\n%s\nwant\n%s", got, want)
	}
	k8 := totp.Key{Issuer: "a+b&c=d", Account: "x/y?z#w", Secret: rfcSecret, Algorithm: totp.SHA512, Digits: 8, Period: time.Minute}
	const want8 = "otpauth://totp/a%2Bb%26c%3Dd:x%2Fy%3Fz%23w?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=a%2Bb%26c%3Dd&algorithm=SHA512&digits=8&period=60"
	if got := k8.URI(); got != want8 {
		t.Errorf("URI() =\n%s\nwant\n%s", got, want8)
	}
	noIssuer := totp.Key{Account: "jane", Secret: rfcSecret}
	const wantNoIssuer = "otpauth://totp/jane?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=SHA1&digits=6&period=30"
	if got := noIssuer.URI(); got != wantNoIssuer {
		t.Errorf("URI() without issuer =\n%s\nwant\n%s", got, wantNoIssuer)
	}
}

func TestURIRoundTrip(t *testing.T) {
	t.Parallel()
	for _, k := range []totp.Key{
		{Issuer: "ACME", Account: "jane", Secret: rfcSecret},
		{Issuer: "ACME Co & Sons / Ltd. + 100% ü", Account: "jane+totp@example.com?x=y#z", Secret: rfcSecret},
		{Issuer: "日本 株式会社", Account: "名前 with spaces  and\ttab", Secret: []byte("0123456789abcdef0123456789abcdef"), Algorithm: totp.SHA256, Digits: 7, Period: 45 * time.Second},
		{Issuer: "%41%3A", Account: "\"quoted\" 'single' <angle> [b] {c} |p| \\ ^ `", Secret: bytes.Repeat([]byte{0xff, 0}, 32), Algorithm: totp.SHA512, Digits: 8, Period: time.Hour},
		{Issuer: "semi;colon,comma", Account: "a@b@c", Secret: rfcSecret, Digits: 6, Period: 30 * time.Second},
	} {
		t.Run(k.Issuer, func(t *testing.T) {
			t.Parallel()
			uri := k.URI()
			got, err := totp.ParseURI(uri)
			if err != nil {
				t.Fatalf("ParseURI(%s): %v", uri, err)
			}
			want := k
			if want.Digits == 0 {
				want.Digits = 6 // URI writes the defaults out
			}
			if want.Period == 0 {
				want.Period = 30 * time.Second
			}
			if got.Issuer != want.Issuer || got.Account != want.Account || !bytes.Equal(got.Secret, want.Secret) ||
				got.Algorithm != want.Algorithm || got.Digits != want.Digits || got.Period != want.Period {
				t.Errorf("ParseURI(URI()) = %v %x\nwant %v %x", got, got.Secret, want, want.Secret)
			}
			if again := got.URI(); again != uri {
				t.Errorf("URI after round trip =\n%s\nwant\n%s", again, uri)
			}
		})
	}
}

func TestParseURIForeign(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		uri  string
		want totp.Key
	}{
		// Lower-case, padded secret; encoded colon and a space after it;
		// no parameters but the secret.
		{"otpauth://totp/ACME%3A%20jane?secret=gezdgnbvgy3tqojqgezdgnbvgy3tqojq", totp.Key{Issuer: "ACME", Account: "jane", Secret: rfcSecret, Digits: 6, Period: 30 * time.Second}},
		// Issuer only as a parameter; upper-case scheme and type.
		{"OTPAUTH://TOTP/jane?issuer=ACME+Co&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=sha256&digits=8&period=60",
			totp.Key{Issuer: "ACME Co", Account: "jane", Secret: rfcSecret, Algorithm: totp.SHA256, Digits: 8, Period: time.Minute}},
		// Secret with padding and grouped by spaces.
		{"otpauth://totp/A:b?secret=GEZD%20GNBV%20GY3T%20QOJQ%20GEZD%20GNBV%20GY3T%20QOJQ%3D%3D%3D", totp.Key{Issuer: "A", Account: "b", Secret: rfcSecret, Digits: 6, Period: 30 * time.Second}},
	} {
		got, err := totp.ParseURI(tc.uri)
		if err != nil {
			t.Errorf("ParseURI(%s): %v", tc.uri, err)
			continue
		}
		if got.Issuer != tc.want.Issuer || got.Account != tc.want.Account || !bytes.Equal(got.Secret, tc.want.Secret) ||
			got.Algorithm != tc.want.Algorithm || got.Digits != tc.want.Digits || got.Period != tc.want.Period {
			t.Errorf("ParseURI(%s) = %v, want %v", tc.uri, got, tc.want)
		}
	}
}

func TestParseURIErrors(t *testing.T) {
	t.Parallel()
	const s = "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	for _, tc := range []struct {
		uri  string
		want error
	}{
		{"http://totp/A:b?" + s, totp.ErrInvalidURI},
		{"otpauth://hotp/A:b?" + s + "&counter=1", totp.ErrInvalidURI},
		{"otpauth://totp/?" + s, totp.ErrInvalidURI},
		{"otpauth://totp/A:?" + s, totp.ErrInvalidURI},
		{"otpauth://totp/A:b?" + s + "&issuer=B", totp.ErrInvalidURI},
		{"otpauth://totp/A:b?" + s + "&issuer=%zz", totp.ErrInvalidURI},
		{"otpauth://totp/A:b:c?" + s, totp.ErrInvalidLabel},
		{"otpauth://totp/A:b", totp.ErrInvalidSecret},
		{"otpauth://totp/A:b?secret=not*base32", totp.ErrInvalidSecret},
		// Google's own example secret is 80 bits, below RFC 4226's 128.
		{"otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example", totp.ErrInvalidSecret},
		{"otpauth://totp/A:b?" + s + "&algorithm=MD5", totp.ErrInvalidAlgorithm},
		{"otpauth://totp/A:b?" + s + "&digits=9", totp.ErrInvalidDigits},
		{"otpauth://totp/A:b?" + s + "&digits=six", totp.ErrInvalidDigits},
		{"otpauth://totp/A:b?" + s + "&digits=0", totp.ErrInvalidDigits},
		{"otpauth://totp/A:b?" + s + "&period=0", totp.ErrInvalidPeriod},
		{"otpauth://totp/A:b?" + s + "&period=-30", totp.ErrInvalidPeriod},
		{"otpauth://totp/A:b?" + s + "&period=86401", totp.ErrInvalidPeriod},
		{"otpauth://totp/A:b?" + s + "&period=99999999999", totp.ErrInvalidPeriod},
		{"::not a url", totp.ErrInvalidURI},
	} {
		if _, err := totp.ParseURI(tc.uri); !errors.Is(err, tc.want) {
			t.Errorf("ParseURI(%s) error = %v, want %v", tc.uri, err, tc.want)
		}
	}
}

func TestDecodeSecret(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "gezd-gnbv-gy3t-qojq-gezd-gnbv-gy3t-qojq", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ===="} {
		if got, err := totp.DecodeSecret(in); err != nil || !bytes.Equal(got, rfcSecret) {
			t.Errorf("DecodeSecret(%q) = %q, %v; want %q", in, got, err, rfcSecret)
		}
	}
	for _, in := range []string{"", "====", "GEZDGNBVGY3TQOJ1", "GEZ"} {
		if _, err := totp.DecodeSecret(in); !errors.Is(err, totp.ErrInvalidSecret) {
			t.Errorf("DecodeSecret(%q) error = %v, want %v", in, err, totp.ErrInvalidSecret)
		}
	}
}

func TestKeyPrintingRedactsSecret(t *testing.T) {
	t.Parallel()
	k := totp.Key{Issuer: "ACME", Account: "jane", Secret: rfcSecret}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("enrolled", "key", k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v|%+v|%#v|%s", k, k, k, k), fmt.Sprint(&k), logged.String()} {
		if strings.Contains(s, string(rfcSecret)) || strings.Contains(s, k.Base32()) || strings.Contains(s, fmt.Sprintf("%x", rfcSecret)) ||
			strings.Contains(s, "49 50 51") {
			t.Errorf("printed key leaks its secret: %s", s)
		}
		if !strings.Contains(s, "jane") {
			t.Errorf("printed key lacks its account: %s", s)
		}
	}
}
