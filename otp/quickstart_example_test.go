package otp_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log"
	"os"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store/memstore"
)

// The README's quick start: TestReadmeQuickStart checks that README.md
// shows exactly this function's body.
func Example_quickStart() {
	ctx := context.Background()

	// At least 32 random bytes, the same on every instance and across
	// restarts: load them from your secret manager. The random fallback is
	// for development only (pending codes do not survive a restart).
	secret, err := hex.DecodeString(os.Getenv("GO2FA_SECRET"))
	if err != nil || len(secret) < 32 {
		secret = make([]byte, 32)
		rand.Read(secret)
	}

	outbox := &sendertest.Recorder{} // production: plivoadapter.NewSMS, NewVoice
	v, err := otp.NewVerifier(otp.Config{
		Store:  memstore.New(), // several instances: redisstore.New(rdb)
		Sender: outbox,
		Secret: secret,
	})
	if err != nil {
		log.Fatal(err)
	}

	res, err := v.Start(ctx, "+1 415 555 0100", sender.SMS, otp.WithLocale("en-US"))
	if err != nil {
		log.Fatal(err) // errors.Is(err, otp.ErrRateLimited), otp.ErrInvalidNumber, ...
	}
	fmt.Println(res.Status, res.To)

	msg, _ := outbox.Last(res.To) // the code the user received and types in
	chk, err := v.Check(ctx, res.To, msg.Code)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(chk.Status) // approved; or rejected (chk.Remaining), expired, locked
	// Output:
	// pending +14155550100
	// approved
}
