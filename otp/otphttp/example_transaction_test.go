package otphttp_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/otp/otphttp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store/memstore"
)

// A "confirm a payment" API beside the sign-in one: the payment comes from
// the server's own state for the session, the SMS shows it, and the code
// approves only that payment.
func ExampleWithTransaction() {
	rec := &sender.Recorder{}
	st := memstore.New()
	defer st.Close()
	v, err := otp.NewVerifier(otp.Config{Store: st, Sender: rec, Secret: []byte("an example secret of 32 bytes or more")})
	if err != nil {
		log.Fatal(err)
	}
	// In a real service: look up the payment the session's user is
	// confirming.
	pending := func(r *http.Request) (otp.Transaction, error) {
		return otp.Transaction{Amount: "12.50", Currency: "EUR", Payee: "ACME Ltd"}, nil
	}
	pay, err := otphttp.New(v, otphttp.WithPrefix("/api/payments"), otphttp.WithTransaction(pending))
	if err != nil {
		log.Fatal(err)
	}

	post := func(path, body string) string {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		pay.ServeHTTP(w, r)
		return fmt.Sprint(w.Code)
	}
	fmt.Println(post(pay.StartPath(), `{"to":"+14155550100"}`))
	msg, _ := rec.Last("+14155550100")
	fmt.Println(strings.Replace(msg.Text, msg.Code, "<code>", 1))
	fmt.Println(post(pay.CheckPath(), `{"to":"+14155550100","code":"`+msg.Code+`"}`))
	// Output:
	// 202
	// Code <code> to pay EUR 12.50 to ACME Ltd. It expires in 5 minutes.
	// 200
}
