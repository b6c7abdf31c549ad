package otp_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store/memstore"
)

// The whole flow: start a verification by SMS, reject a wrong code, approve
// the right one once.
func ExampleVerifier() {
	ctx := context.Background()
	outbox := &sendertest.Recorder{} // in production: a plivoadapter sender
	v, err := otp.NewVerifier(otp.Config{
		Store:  memstore.New(), // in production: redisstore.New(rdb)
		Sender: outbox,
		Secret: newSecret(),
	})
	if err != nil {
		panic(err)
	}

	res, err := v.Start(ctx, "+1 415 555 0100", sender.SMS)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.To, res.Remaining)

	msg, _ := outbox.Last(res.To) // what the user received
	wrong := "000000"
	if msg.Code == wrong {
		wrong = "111111"
	}
	chk, _ := v.Check(ctx, res.To, wrong)
	fmt.Println(chk.Status, chk.Remaining)

	chk, _ = v.Check(ctx, res.To, msg.Code)
	fmt.Println(chk.Status)

	chk, _ = v.Check(ctx, res.To, msg.Code)
	fmt.Println(chk.Status)
	// Output:
	// pending +14155550100 5
	// rejected 4
	// approved
	// expired
}

// A second send within the cooldown is refused with the time to wait.
func ExampleRateLimitError() {
	ctx := context.Background()
	v, _ := otp.NewVerifier(otp.Config{
		Store:  memstore.New(),
		Sender: &sendertest.Recorder{},
		Secret: newSecret(),
	})
	if _, err := v.Start(ctx, "+14155550100", sender.SMS); err != nil {
		panic(err)
	}
	_, err := v.Start(ctx, "+14155550100", sender.Call)
	var rl *otp.RateLimitError
	if errors.As(err, &rl) {
		fmt.Println(errors.Is(err, otp.ErrRateLimited), rl.Reason, rl.RetryAfter > 0)
	}
	// Output: true cooldown true
}

// Errors are sentinels matched with errors.Is; bad input never reaches
// the store.
func ExampleVerifier_Check_invalidCode() {
	v, _ := otp.NewVerifier(otp.Config{
		Store:  memstore.New(),
		Sender: &sendertest.Recorder{},
		Secret: newSecret(),
	})
	_, err := v.Check(context.Background(), "+14155550100", "12ab56")
	fmt.Println(errors.Is(err, otp.ErrInvalidCode), err)
	// Output: true otp: invalid code format: want 6 digits
}

// newSecret returns 32 bytes from crypto/rand. In production, load a secret
// that stays the same across restarts and instances from your secret
// manager or the environment; never a string written in the source.
func newSecret() []byte {
	b := make([]byte, 32)
	rand.Read(b) // never returns an error
	return b
}
