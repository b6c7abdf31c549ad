package plivoadapter_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
)

// Send a code by SMS through the fake Plivo API and read it back, as a
// test of one's own service would.
func ExampleNewSMS() {
	srv := plivotest.NewServer()
	defer srv.Close()

	sms, err := plivoadapter.NewSMS(plivoadapter.Config{
		AuthID:     plivotest.AuthID,
		AuthToken:  plivotest.AuthToken,
		Number:     plivotest.Number,
		HTTPClient: srv.Client(), // in production: nil, or your own client
	}, plivoadapter.WithBrand("Acme"))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = sms.Send(context.Background(), sender.Message{
		To: "+14155550100", Channel: sender.SMS, Code: "123456", TTL: 5 * time.Minute,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _ := srv.LastMessage("+14155550100")
	fmt.Println(m.Text)
	fmt.Println("code:", m.Code)
	// Output:
	// Acme: Your verification code is 123456. It expires in 5 minutes.
	// code: 123456
}

// Place a call, then play Plivo: fetch the answer URL from the voice
// handler and hear the digits.
func ExampleVoice_AnswerHandler() {
	srv := plivotest.NewServer()
	defer srv.Close()

	voice, err := plivoadapter.NewVoice(plivoadapter.Config{
		AuthID:     plivotest.AuthID,
		AuthToken:  plivotest.AuthToken,
		Number:     plivotest.Number,
		HTTPClient: srv.Client(),
	}, "https://example.com/plivo/answer")
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/plivo/answer", voice.AnswerHandler())

	if err := voice.Send(context.Background(), sender.Message{To: "+14155550100", Channel: sender.Call, Code: "2468"}); err != nil {
		fmt.Println(err)
		return
	}
	call, _ := srv.LastCall("+14155550100")
	answer, _ := plivotest.PlayAnswer(mux, call)
	fmt.Println(answer.StatusCode, answer.Speak)
	// Plivo fetches again for the same call (its reply was lost): same XML.
	retry, _ := plivotest.PlayAnswer(mux, call)
	fmt.Println("retry:", retry.StatusCode)
	// Another call cannot use the token.
	other := call
	other.CallUUID = "another-call"
	stolen, _ := plivotest.PlayAnswer(mux, other)
	fmt.Println("another call:", stolen.StatusCode)
	// Output:
	// 200 [Your verification code is 2, 4, 6, 8. Once again, your code is 2, 4, 6, 8. Goodbye.]
	// retry: 200
	// another call: 404
}

// Plivo reports that an SMS was not delivered: the WithOnFailure function
// receives the Ref the message was sent with and its channel, once per
// message, for example to fall back to a call. Plivo's report is signed V2, as its
// messaging documentation says.
func ExampleSMS_StatusHandler() {
	srv := plivotest.NewServer()
	defer srv.Close()

	cfg := plivoadapter.Config{
		AuthID:    plivotest.AuthID,
		AuthToken: plivotest.AuthToken,
		Number:    plivotest.Number,
		APIURL:    srv.URL(), // in production: "" (Plivo)
	}
	sms, err := plivoadapter.NewSMS(cfg,
		plivoadapter.WithStatusURL("https://example.com/plivo/status"),
		plivoadapter.WithOnFailure(func(ctx context.Context, d plivoadapter.Delivery) {
			fmt.Println("not delivered:", d.Ref, d.Channel, d.Status, d.ErrorCode)
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/plivo/status", sms.StatusHandler())

	err = sms.Send(context.Background(), sender.Message{
		To: "+14155550100", Channel: sender.SMS, Code: "123456", TTL: 5 * time.Minute, Ref: "verification-7f3a",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _ := srv.LastMessage("+14155550100")
	for _, status := range []string{"undelivered", "failed"} {
		r, _ := plivotest.StatusRequest(m, status, "30")
		a, _ := plivotest.Serve(mux, r)
		fmt.Println(status, "report:", a.StatusCode)
	}
	// Output:
	// not delivered: verification-7f3a sms undelivered 30
	// undelivered report: 200
	// failed report: 200
}

// The answer to a call whose code confirms a payment speaks the payment
// before the digits, both times, in the prompt's language.
func ExampleAnswerXML_transaction() {
	p := plivoadapter.Prompt{
		Code:        "493817",
		Language:    "en-GB",
		Transaction: &sender.Transaction{Amount: "12.50", Currency: "EUR", Payee: "ACME & Sons"},
	}
	fmt.Print(plivoadapter.AnswerXML(p))
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?>
	// <Response><Speak voice="WOMAN" language="en-GB">Your code to pay 12 point 5 0 euros to ACME &amp; Sons is</Speak><Wait length="1"></Wait><Speak voice="WOMAN" language="en-GB">4, 9, 3, 8, 1, 7.</Speak><Wait length="2"></Wait><Speak voice="WOMAN" language="en-GB">Once again, your code to pay 12 point 5 0 euros to ACME &amp; Sons is</Speak><Wait length="1"></Wait><Speak voice="WOMAN" language="en-GB">4, 9, 3, 8, 1, 7.</Speak><Wait length="1"></Wait><Speak voice="WOMAN" language="en-GB">Goodbye.</Speak><Hangup></Hangup></Response>
}
