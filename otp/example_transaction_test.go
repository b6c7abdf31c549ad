package otp_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store/memstore"
)

// PSD2 dynamic linking: the code approves one payment, and the SMS shows
// its amount and payee.
func ExampleWithTransaction() {
	ctx := context.Background()
	outbox := &sendertest.Recorder{}
	v, err := otp.NewVerifier(otp.Config{
		Store:  memstore.New(),
		Sender: outbox,
		Secret: []byte("use 32+ random bytes, e.g. from GO2FA_SECRET"),
	})
	if err != nil {
		panic(err)
	}
	payment := otp.Transaction{Amount: "12.5", Currency: "eur", Payee: "ACME Ltd"}

	res, err := v.Start(ctx, "+14155550100", sender.SMS, otp.WithTransaction(payment))
	if err != nil {
		panic(err)
	}
	msg, _ := outbox.Last(res.To)
	fmt.Println(strings.Replace(msg.Text, msg.Code, "<code>", 1))

	// The same code for another amount is a wrong guess, and counted.
	tampered := otp.Transaction{Amount: "1250.00", Currency: "EUR", Payee: "ACME Ltd"}
	chk, _ := v.Check(ctx, res.To, msg.Code, otp.WithTransaction(tampered))
	fmt.Println(chk.Status, chk.Remaining)

	chk, _ = v.Check(ctx, res.To, msg.Code, otp.WithTransaction(payment))
	fmt.Println(chk.Status)
	// Output:
	// Code <code> to pay EUR 12.50 to ACME Ltd. It expires in 5 minutes.
	// rejected 4
	// approved
}
