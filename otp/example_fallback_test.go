package otp_test

import (
	"context"
	"fmt"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store/memstore"
)

// An SMS is reported undelivered: the same code goes out by voice, once.
func ExampleVerifier_Fallback() {
	ctx := context.Background()
	st := memstore.New()
	defer st.Close()
	var sms, voice sendertest.Recorder
	v, err := otp.NewVerifier(otp.Config{
		Store:  st,
		Sender: sender.ByChannel(map[sender.Channel]sender.Sender{sender.SMS: &sms, sender.Call: &voice}),
		Secret: []byte("an example secret of at least 32 bytes!"),
		Policy: otp.Policy{Fallback: true},
	})
	if err != nil {
		panic(err)
	}
	if _, err := v.Start(ctx, "+14155550100", sender.SMS, otp.WithBinding("session-1")); err != nil {
		panic(err)
	}
	text, _ := sms.Last("+14155550100")

	// The delivery report carries text.Ref; that is all Fallback needs.
	res, err := v.Fallback(ctx, text.Ref, sender.Call)
	fmt.Println(res.Status, res.Channel, err)
	call, _ := voice.Last("+14155550100")
	fmt.Println("same code:", call.Code == text.Code)

	// A second report for the same code changes nothing.
	res, _ = v.Fallback(ctx, text.Ref, sender.Call)
	fmt.Println(res.Status, voice.Len())

	// The code checks in the session that started it.
	chk, _ := v.Check(ctx, "+14155550100", call.Code, otp.WithBinding("session-1"))
	fmt.Println(chk.Status)
	// Output:
	// sent call <nil>
	// same code: true
	// spent 1
	// approved
}
