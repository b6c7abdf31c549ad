package totp_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"time"

	"github.com/go2fa/go2fa/otp/totp"
	"github.com/go2fa/go2fa/store/memstore"
)

// Enroll a user, check their first code, and refuse the same code when it
// is replayed. A fixed secret and a fixed clock make the output
// deterministic; real code uses totp.Generate and the system clock.
func Example() {
	// Enrollment: normally totp.Generate("ACME", "jane@example.com").
	key := totp.Key{Issuer: "ACME", Account: "jane@example.com", Secret: []byte("12345678901234567890")}
	fmt.Println(key.URI())
	qr, err := key.QRPNG(256)
	if err != nil {
		panic(err)
	}
	img, err := png.Decode(bytes.NewReader(qr)) // serve qr as image/png instead
	if err != nil {
		panic(err)
	}
	fmt.Println("QR code:", img.Bounds().Dx(), "x", img.Bounds().Dy())

	// The time the user types the code the app shows.
	now := time.Date(2005, 3, 18, 1, 58, 29, 0, time.UTC)
	clock := func() time.Time { return now }
	code, _ := key.Code(now)
	fmt.Println("code:", code)

	mem := memstore.New(memstore.WithClock(clock))
	defer mem.Close()
	v, err := totp.NewValidator(totp.Config{Store: mem, Now: clock})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for range 2 {
		res, err := v.Validate(ctx, "user-42", key, code)
		if err != nil {
			panic(err)
		}
		fmt.Println(res.Status, "remaining:", res.Remaining)
	}
	res, _ := v.Validate(ctx, "user-42", key, "000000")
	fmt.Println(res.Status, "remaining:", res.Remaining)

	// Output:
	// otpauth://totp/ACME:jane@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME&algorithm=SHA1&digits=6&period=30
	// QR code: 256 x 256
	// code: 081804
	// approved remaining: 0
	// replayed remaining: 4
	// rejected remaining: 3
}
