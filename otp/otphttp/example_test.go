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
	"github.com/go2fa/go2fa/store/memstore"
)

// Mount the API on a service's own mux; here a Recorder stands in for a real
// sender so the example can read the code that was "sent".
func Example() {
	rec := &sender.Recorder{}
	st := memstore.New()
	defer st.Close()
	v, err := otp.NewVerifier(otp.Config{Store: st, Sender: rec, Secret: newSecret()})
	if err != nil {
		log.Fatal(err)
	}
	api, err := otphttp.New(v)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)

	post := func(path, body string) {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.Contains(w.Body.String(), `"status":"pending"`) || strings.Contains(w.Body.String(), `"status":"approved"`))
	}
	post("/api/verifications", `{"to":"+14155550100","channel":"sms"}`)
	msg, _ := rec.Last("+14155550100")
	post("/api/verifications/check", `{"to":"+14155550100","code":"`+msg.Code+`"}`)
	// Output:
	// 202 true
	// 200 true
}

// newSecret returns 32 bytes from crypto/rand. In production, load a secret
// that stays the same across restarts and instances from your secret
// manager or the environment; never a string written in the source.
func newSecret() []byte {
	b := make([]byte, 32)
	rand.Read(b) // never returns an error
	return b
}
