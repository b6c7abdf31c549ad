package plivoadapter_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
)

var acmePayment = sender.Transaction{Amount: "12.50", Currency: "EUR", Payee: "ACME Ltd"}

// txnCall is a call message that confirms t.
func txnCall(locale string, t sender.Transaction) sender.Message {
	m := callMsg()
	m.Locale, m.Transaction = locale, &t
	return m
}

// answerFor places m's call through v and plays Plivo's answer request.
func answerFor(t *testing.T, srv *plivotest.Server, v *plivoadapter.Voice, m sender.Message) (plivotest.Call, plivotest.Answer) {
	t.Helper()
	if err := v.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	c, ok := srv.LastCall(m.To)
	if !ok {
		t.Fatal("no call placed")
	}
	a, err := plivotest.PlayAnswer(v.AnswerHandler(), c)
	if err != nil || a.StatusCode != http.StatusOK {
		t.Fatalf("answer: %d %v %s", a.StatusCode, err, a.Body)
	}
	return c, a
}

// The call speaks the payment before the digits, in the message's
// language where Plivo has a voice for it and otherwise wholly in
// English, both times, with the amount written for a speech engine.
func TestVoiceSpeaksTransaction(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	v := newVoice(t, srv)
	jpy := sender.Transaction{Amount: "1250", Currency: "JPY", Payee: "Yamada Shoten"}
	bhd := sender.Transaction{Amount: "1.500", Currency: "BHD", Payee: "Gulf Trading W.L.L."}
	tests := []struct {
		locale string
		t      sender.Transaction
		lang   string
		first  string
		again  string
	}{
		{"", acmePayment, "en-US", "Your code to pay 12 point 5 0 euros to ACME Ltd is", "Once again, your code to pay 12 point 5 0 euros to ACME Ltd is"},
		{"en-GB", acmePayment, "en-GB", "Your code to pay 12 point 5 0 euros to ACME Ltd is", ""},
		{"de-AT", acmePayment, "de-DE", "Ihr Code für die Zahlung von 12 Komma 5 0 Euro an ACME Ltd lautet", "Noch einmal, Ihr Code für die Zahlung von 12 Komma 5 0 Euro an ACME Ltd lautet"},
		{"fr-CA", acmePayment, "fr-CA", "Votre code pour payer 12 virgule 5 0 euros à ACME Ltd est", ""},
		{"es", jpy, "es-ES", "Su código para pagar 1250 J P Y a Yamada Shoten es", ""},
		{"it", acmePayment, "it-IT", "Il suo codice per pagare 12 virgola 5 0 euro a ACME Ltd è", ""},
		{"nl", bhd, "nl-NL", "Uw code om 1 komma 5 0 0 B H D te betalen aan Gulf Trading W.L.L. is", ""},
		{"pt-PT", acmePayment, "pt-PT", "O seu código para pagar 12 vírgula 5 0 euros a ACME Ltd é", ""},
		{"ja", jpy, "ja-JP", "Yamada Shotenへの1250 円のお支払いの認証コードは", "もう一度申し上げます。Yamada Shotenへの1250 円のお支払いの認証コードは"},
		{"pl-PL", acmePayment, "pl-PL", "Twój kod do płatności 12 przecinek 5 0 euro dla ACME Ltd to", ""},
		{"sv-FI", acmePayment, "sv-SE", "Din kod för att betala 12 komma 5 0 euro till ACME Ltd är", ""},
		// No Plivo voice for the language: the whole call is in English.
		{"fi", acmePayment, "en-US", "Your code to pay 12 point 5 0 euros to ACME Ltd is", ""},
		{"tr-TR", acmePayment, "en-US", "Your code to pay 12 point 5 0 euros to ACME Ltd is", ""},
	}
	for _, tt := range tests {
		_, a := answerFor(t, srv, v, txnCall(tt.locale, tt.t))
		if got := a.Digits(); !reflect.DeepEqual(got, []string{code, code}) {
			t.Errorf("%q: spoken digits = %q, want the code twice", tt.locale, got)
		}
		if len(a.Speak) < 4 || a.Speak[0] != tt.first {
			t.Errorf("%q: speaks %q, want first %q", tt.locale, a.Speak, tt.first)
			continue
		}
		// The repeat keeps the whole sentence: payment, then the digits.
		if tt.again != "" && a.Speak[2] != tt.again {
			t.Errorf("%q: repeat = %q, want %q", tt.locale, a.Speak[2], tt.again)
		}
		if !strings.Contains(a.Speak[2], tt.t.Payee) || a.Digits()[1] != code {
			t.Errorf("%q: the repeat %q lacks the payee or the digits", tt.locale, a.Speak[2])
		}
		if strings.Count(a.Body, `language="`+tt.lang+`"`) != strings.Count(a.Body, "<Speak") {
			t.Errorf("%q: not every <Speak> is in %s: %s", tt.locale, tt.lang, a.Body)
		}
	}
}

// A payee cannot inject Plivo XML or SSML: it is spoken as text, and the
// answer holds only the elements the handler writes.
func TestVoiceTransactionPayeeEscaped(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	v := newVoice(t, srv)
	payees := []string{
		`</Speak><Play>https://evil.example/a.mp3</Play><Speak>`,
		`<break time="10s"/> 9 9 9 9 9 9`,
		`A&B "quoted" 'single' <![CDATA[x]]>`,
		`]]><Redirect>https://evil.example/</Redirect>`,
	}
	for _, payee := range payees {
		_, a := answerFor(t, srv, v, txnCall("en", sender.Transaction{Amount: "1.00", Currency: "USD", Payee: payee}))
		allowed := map[string]bool{"Response": true, "Speak": true, "Wait": true, "Hangup": true}
		d := xml.NewDecoder(bytes.NewReader([]byte(a.Body)))
		for {
			tok, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("payee %q: answer is not XML: %v\n%s", payee, err, a.Body)
			}
			if se, ok := tok.(xml.StartElement); ok {
				if !allowed[se.Name.Local] {
					t.Errorf("payee %q injected <%s>: %s", payee, se.Name.Local, a.Body)
				}
				for _, at := range se.Attr {
					if at.Name.Local != "voice" && at.Name.Local != "language" && at.Name.Local != "length" {
						t.Errorf("payee %q injected attribute %s", payee, at.Name.Local)
					}
				}
			}
		}
		want := "Your code to pay 1 point 0 0 US dollars to " + payee + " is"
		if len(a.Speak) == 0 || a.Speak[0] != want {
			t.Errorf("payee %q: first speak = %q, want %q", payee, a.Speak, want)
		}
		if got := a.Digits(); !reflect.DeepEqual(got, []string{code, code}) {
			t.Errorf("payee %q: spoken digits = %q, want the code twice", payee, got)
		}
	}
}

// The answer URL, the call request, the logs and the errors carry neither
// the code nor the payment: both wait in the TokenStore under the token.
func TestVoiceTransactionNotInURLOrLogs(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	var logs bytes.Buffer
	v := newVoice(t, srv, plivoadapter.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	tr := sender.Transaction{Amount: "4321.98", Currency: "EUR", Payee: "Zebulon Quartermaine"}
	c, _ := answerFor(t, srv, v, txnCall("de", tr))
	// An answer request for an unknown token is refused and logged.
	unknown := c
	unknown.AnswerURL = answerURL + "?" + plivoadapter.TokenParam + "=unknown"
	if a, err := plivotest.PlayAnswer(v.AnswerHandler(), unknown); err != nil || a.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown token: %d %v", a.StatusCode, err)
	}
	srv.Fail(plivotest.BadRequest)
	err := v.Send(context.Background(), txnCall("de", tr))
	if !errors.Is(err, plivoadapter.ErrPermanent) {
		t.Fatalf("failed call: %v, want ErrPermanent", err)
	}
	var requests strings.Builder
	for _, r := range srv.Requests() {
		requests.WriteString(r.Path + "?" + r.Query + " " + string(r.Body) + "\n")
	}
	for _, where := range []string{c.AnswerURL, requests.String(), logs.String(), err.Error()} {
		for _, secret := range []string{"4321", "Zebulon", "Quartermaine", code} {
			if strings.Contains(where, secret) {
				t.Errorf("%q found in %q", secret, where)
			}
		}
	}
	if logs.Len() == 0 {
		t.Error("no log line: the log check proved nothing")
	}
}

// Voice shows a transaction on calls; the PHLO sender, which runs a flow
// that reads the code alone, does not, and refuses one.
func TestTransactionCarriers(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	v := newVoice(t, srv)
	if !sender.CarriesTransaction(v, sender.Call) || sender.CarriesTransaction(v, sender.SMS) {
		t.Error("Voice: CarriesTransaction(call) must be true, (sms) false")
	}
	p, err := plivoadapter.NewPHLO(config(srv))
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range []sender.Channel{sender.SMS, sender.Call} {
		if sender.CarriesTransaction(p, ch) {
			t.Errorf("PHLO: CarriesTransaction(%s) = true", ch)
		}
		m := txnCall("", acmePayment)
		m.Channel = ch
		if err := p.Send(context.Background(), m); !errors.Is(err, sender.ErrTransactionUnsupported) {
			t.Errorf("PHLO %s with a transaction: %v, want ErrTransactionUnsupported", ch, err)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests reached Plivo, want none", n)
	}
}
