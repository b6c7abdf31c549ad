package totp_test

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"testing"

	"github.com/boombuler/barcode/qr"
	"github.com/go2fa/go2fa/otp/totp"
)

func TestQRPNG(t *testing.T) {
	t.Parallel()
	k := totp.Key{Issuer: "ACME Co", Account: "jane@example.com", Secret: rfcSecret}
	want, err := qr.Encode(k.URI(), qr.M, qr.Auto)
	if err != nil {
		t.Fatal(err)
	}
	if want.Content() != k.URI() {
		t.Fatalf("qr content = %q, want the URI", want.Content())
	}
	n := want.Bounds().Dx()
	if _, err := k.QRPNG(n + 7); !errors.Is(err, totp.ErrQRTooSmall) {
		t.Errorf("QRPNG(%d), one pixel short of the quiet zone: error = %v, want %v", n+7, err, totp.ErrQRTooSmall)
	}
	for _, size := range []int{n + 8, 200, 256, 301} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			b, err := k.QRPNG(size)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			if r := img.Bounds(); r.Dx() != size || r.Dy() != size {
				t.Fatalf("image is %v, want %dx%d", r, size, size)
			}
			dark := func(x, y int) bool {
				r, _, _, _ := img.At(x, y).RGBA()
				return r < 0x8000
			}
			scale := size / (n + 8)
			off := (size - n*scale) / 2
			if off < 4*scale {
				t.Fatalf("quiet zone is %d pixels, want at least %d (four modules)", off, 4*scale)
			}
			// Every pixel outside the code is light (the quiet zone).
			for y := 0; y < size; y++ {
				for x := 0; x < size; x++ {
					inside := x >= off && x < off+n*scale && y >= off && y < off+n*scale
					if !inside && dark(x, y) {
						t.Fatalf("pixel (%d,%d) in the quiet zone is dark", x, y)
					}
				}
			}
			// Every module, sampled at each of its pixel corners, has the
			// colour the encoder gave it.
			for my := 0; my < n; my++ {
				for mx := 0; mx < n; mx++ {
					r, _, _, _ := want.At(mx, my).RGBA()
					wantDark := r < 0x8000
					for _, d := range [][2]int{{0, 0}, {scale - 1, 0}, {0, scale - 1}, {scale - 1, scale - 1}} {
						if got := dark(off+mx*scale+d[0], off+my*scale+d[1]); got != wantDark {
							t.Fatalf("module (%d,%d): dark = %v, want %v", mx, my, got, wantDark)
						}
					}
				}
			}
		})
	}
}

func TestQRPNGErrors(t *testing.T) {
	t.Parallel()
	k := totp.Key{Issuer: "ACME", Account: "jane", Secret: rfcSecret}
	if _, err := k.QRPNG(20); !errors.Is(err, totp.ErrQRTooSmall) {
		t.Errorf("QRPNG(20) error = %v, want %v", err, totp.ErrQRTooSmall)
	}
	if _, err := k.QRPNG(-1); !errors.Is(err, totp.ErrQRTooSmall) {
		t.Errorf("QRPNG(-1) error = %v, want %v", err, totp.ErrQRTooSmall)
	}
	for _, tc := range []struct {
		key  totp.Key
		want error
	}{
		{totp.Key{Account: "jane", Secret: rfcSecret}, totp.ErrInvalidLabel},
		{totp.Key{Issuer: "ACME", Account: "jane"}, totp.ErrInvalidSecret},
		{totp.Key{Issuer: "ACME", Account: "jane", Secret: rfcSecret, Digits: 10}, totp.ErrInvalidDigits},
	} {
		if b, err := tc.key.QRPNG(256); !errors.Is(err, tc.want) || b != nil {
			t.Errorf("QRPNG of %v = %d bytes, %v; want nil, %v", tc.key, len(b), err, tc.want)
		}
	}
}
