package totp

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/boombuler/barcode/qr"
)

// quietZone is the white border, in modules, that QR scanners need around
// the code (ISO/IEC 18004 asks for four).
const quietZone = 4

// QRPNG returns a size×size PNG image of a QR code of k's URI, for an
// authenticator app to scan. The code uses error correction level M and is
// drawn with whole-pixel modules, centred, with a four-module white quiet
// zone; size must leave at least one pixel per module (ErrQRTooSmall says
// the minimum otherwise). About 256 pixels suits a screen. k is checked
// first: it needs an issuer, an account and valid parameters.
//
// The image holds the secret: serve it only to the user enrolling, with
// Cache-Control: no-store.
func (k Key) QRPNG(size int) ([]byte, error) {
	if err := k.checkLabel(); err != nil {
		return nil, err
	}
	if _, err := k.params(); err != nil {
		return nil, err
	}
	code, err := qr.Encode(k.URI(), qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("totp: encoding qr code: %w", err)
	}
	n := code.Bounds().Dx() // modules per side
	total := n + 2*quietZone
	scale := size / total
	if scale < 1 {
		return nil, fmt.Errorf("%w: %d pixels (want at least %d)", ErrQRTooSmall, size, total)
	}
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	off := (size - n*scale) / 2
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if r, _, _, _ := code.At(x, y).RGBA(); r >= 0x8000 {
				continue // light module: the background already is
			}
			for dy := 0; dy < scale; dy++ {
				row := img.Pix[(off+y*scale+dy)*img.Stride:]
				for dx := 0; dx < scale; dx++ {
					row[off+x*scale+dx] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("totp: encoding png: %w", err)
	}
	return buf.Bytes(), nil
}
