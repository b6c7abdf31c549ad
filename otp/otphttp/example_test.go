package otphttp_test

import (
	"crypto/rand"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/otp/otphttp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store/memstore"
)

// Mount the API on a service's own mux; here a Recorder stands in for a real
// sender so the example can read the code that was "sent".
func Example() {
	rec := &sendertest.Recorder{}
	v, stop := newVerifier(rec) // an otp.Verifier on memstore
	defer stop()
	api, err := otphttp.New(v)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)

	w := postJSON(mux, "/api/verifications", `{"to":"+14155550100","channel":"sms"}`)
	fmt.Println(w.Code, strings.Contains(w.Body.String(), `"status":"pending"`))
	msg, _ := rec.Last("+14155550100")
	w = postJSON(mux, "/api/verifications/check", `{"to":"+14155550100","code":"`+msg.Code+`"}`)
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// 202 true
	// 200 {"status":"approved"}
}

// A "confirm a payment" API beside the sign-in one: the payment comes from
// the server's own state for the session, the SMS shows it, and the code
// approves only that payment.
func ExampleWithTransaction() {
	rec := &sendertest.Recorder{}
	v, stop := newVerifier(rec) // an otp.Verifier on memstore
	defer stop()
	// In a real service: look up the payment the session's user is
	// confirming.
	pending := func(r *http.Request) (otp.Transaction, error) {
		return otp.Transaction{Amount: "12.50", Currency: "EUR", Payee: "ACME Ltd"}, nil
	}
	pay, err := otphttp.New(v, otphttp.WithPrefix("/api/payments"), otphttp.WithTransaction(pending))
	if err != nil {
		log.Fatal(err)
	}

	fmt.Println(postJSON(pay, pay.StartPath(), `{"to":"+14155550100"}`).Code)
	msg, _ := rec.Last("+14155550100")
	fmt.Println(strings.Replace(msg.Text, msg.Code, "<code>", 1))
	fmt.Println(postJSON(pay, pay.CheckPath(), `{"to":"+14155550100","code":"`+msg.Code+`"}`).Code)
	// Output:
	// 202
	// Code <code> to pay EUR 12.50 to ACME Ltd. It expires in 5 minutes.
	// 200
}

// postJSON sends a JSON body to h, as a browser's fetch would.
func postJSON(h http.Handler, path, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// newVerifier returns an otp.Verifier that keeps its codes in memory and
// sends them with s, and a function that stops it.
func newVerifier(s sender.Sender) (*otp.Verifier, func()) {
	st := memstore.New()
	v, err := otp.NewVerifier(otp.Config{Store: st, Sender: s, Secret: newSecret()})
	if err != nil {
		log.Fatal(err)
	}
	return v, func() { st.Close() }
}

// newSecret returns 32 bytes from crypto/rand. In production, load a secret
// that stays the same across restarts and instances from your secret
// manager or the environment; never a string written in the source.
func newSecret() []byte {
	b := make([]byte, 32)
	rand.Read(b) // never returns an error
	return b
}
