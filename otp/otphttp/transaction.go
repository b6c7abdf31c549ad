package otphttp

import (
	"errors"
	"net/http"

	"github.com/go2fa/go2fa/otp"
)

// Error codes of a handler built WithTransaction.
const (
	// CodeInvalidTransaction: no payment to confirm for the request (the
	// WithTransaction function failed), a payment the Verifier refuses,
	// or a channel whose sender cannot show it (otp.ErrTransactionUnsupported).
	CodeInvalidTransaction = "invalid_transaction"
	// CodeTransactionTooLong: the payment's text does not fit in one SMS;
	// the payee must be shorter.
	CodeTransactionTooLong = "transaction_too_long"
)

// WithTransaction makes every code of the handler confirm one payment
// (PSD2 dynamic linking, see otp.WithTransaction). f returns the payment
// the request's session is confirming, read from state the server keeps
// (never from the request, whose body takes no such member): the start
// route sends a code whose message (SMS text, voice call, WhatsApp
// transaction template) shows the payment's amount and payee, and
// the check route approves it only if f still returns the same payment. An
// error from f is answered 400 invalid_transaction, and nothing is sent or
// checked. New refuses a nil f.
//
// Mount such a handler on a prefix of its own beside the sign-in one:
//
//	pay, err := otphttp.New(v, otphttp.WithPrefix("/api/payments"), otphttp.WithTransaction(pending))
func WithTransaction(f func(*http.Request) (otp.Transaction, error)) Option {
	return func(o *options) {
		o.txn = f
		o.nilArg("WithTransaction", f == nil)
	}
}

// TransactionInfo is the "transaction" member of a start reply: the payment
// as the SMS shows it, for the confirmation screen.
type TransactionInfo struct {
	// Amount is the currency and the amount: "EUR 12.50".
	Amount string `json:"amount"`
	// Payee is the payee's name, normalized.
	Payee string `json:"payee"`
}

// transaction returns the payment of r and its start-reply member, or
// answers the error itself and returns ok false.
func (h *Handler) transaction(w http.ResponseWriter, r *http.Request) (opt otp.Option, info *TransactionInfo, ok bool) {
	t, err := h.txn(r)
	if err == nil {
		t, err = t.Normalize()
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeInvalidTransaction, "no valid payment to confirm")
		return nil, nil, false
	}
	return otp.WithTransaction(t), &TransactionInfo{Amount: t.AmountText(), Payee: t.Payee}, true
}

// transactionError answers the Verifier's transaction errors and reports
// whether err was one.
func transactionError(w http.ResponseWriter, err error) bool {
	switch {
	case errors.Is(err, otp.ErrTransactionTooLong):
		writeError(w, http.StatusBadRequest, CodeTransactionTooLong, "the payee is too long for one text message")
	case errors.Is(err, otp.ErrInvalidTransaction):
		writeError(w, http.StatusBadRequest, CodeInvalidTransaction, "this payment cannot be confirmed by this channel")
	default:
		return false
	}
	return true
}
