package plivoadapter

import (
	"context"
	"fmt"
	"net/http"

	"github.com/go2fa/go2fa/sender"
	plivo "github.com/plivo/plivo-go/v7"
)

// PHLO sends codes by running a PHLO built from Plivo's Two-Factor
// Authentication template, with the payload that template reads:
//
//	{"from": "<PLIVO_NUMBER>", "to": "<destination>", "otp": "<code>", "mode": "sms" | "call"}
//
// Each Send is exactly one HTTP request, the run (POST
// https://phlorunner.plivo.com/v1/account/{auth_id}/phlo/{phlo_id}/), built
// by plivo-go's PhloClient exactly as Phlo.Run builds it. A run needs only
// the PHLO ID, so Send never fetches the PHLO (a GET) first; use Ping at
// startup to check that PHLO_ID exists. It is safe for concurrent use.
type PHLO struct {
	client *plivo.PhloClient
	api    api
	authID string
	phloID string
	from   string
}

// NewPHLO returns a PHLO sender for the account and PHLO in c (PHLOID is
// required). It checks c and returns an error wrapping ErrInvalidConfig.
func NewPHLO(c Config) (*PHLO, error) {
	if err := c.validate(true, true); err != nil {
		return nil, err
	}
	a, err := newAPI(c)
	if err != nil {
		return nil, err
	}
	cl, err := plivo.NewPhloClient(c.AuthID, c.AuthToken, &plivo.ClientOptions{HttpClient: a.hc})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return &PHLO{client: cl, api: a, authID: c.AuthID, phloID: c.PHLOID, from: c.Number}, nil
}

// CarriesTransaction reports false for every channel: the PHLO reads out
// or texts the code alone.
func (p *PHLO) CarriesTransaction(sender.Channel) bool { return false }

// Send runs the PHLO for m (see Run).
func (p *PHLO) Send(ctx context.Context, m sender.Message) error {
	_, err := p.Run(ctx, m)
	return err
}

// Run runs the PHLO for m, mode "sms" for sender.SMS and "call" for
// sender.Call, and returns Plivo's reference of the run. The Two-Factor
// Authentication template has no WhatsApp mode, so sender.WhatsApp fails
// with sender.ErrUnsupportedChannel. A done ctx runs nothing; Plivo
// failures are *Error.
//
// Plivo documents the run's answer as 201 {"api_id", "phlo_id",
// "message"}, where the api_id identifies the run; plivo-go's fixtures
// and other SDKs also show a "phlo_run_id". Any 2xx answer that names the
// PHLO or carries an api_id is a run that started: the reference is the
// phlo_run_id when present, else the api_id ("" if the answer only names
// the PHLO). A 2xx answer with none of them is
// an *Error wrapping ErrTransient: it does not say whether the PHLO ran.
//
// The template's payload has no place for a payment, so a message with a
// Transaction fails with sender.ErrTransactionUnsupported and runs
// nothing.
func (p *PHLO) Run(ctx context.Context, m sender.Message) (ref string, err error) {
	if err := m.Validate(); err != nil {
		return "", err
	}
	if m.Transaction != nil {
		return "", fmt.Errorf("plivoadapter: phlo sender: %w", sender.ErrTransactionUnsupported)
	}
	if m.Channel != sender.SMS && m.Channel != sender.Call {
		return "", fmt.Errorf("plivoadapter: phlo sender: %w: %s", sender.ErrUnsupportedChannel, m.Channel)
	}
	payload := map[string]interface{}{"from": p.from, "to": m.To, "otp": m.Code, "mode": string(m.Channel)}
	// The request of plivo-go's Phlo.Run.
	req, err := p.client.NewRequest(http.MethodPost, payload, "account/%s/phlo/%s/", p.authID, p.phloID)
	if err != nil {
		return "", &Error{Op: "run phlo", Err: err}
	}
	var out plivo.PhloRun
	status, err := p.api.do(ctx, "run phlo", req, &out)
	if err != nil {
		return "", err
	}
	apiID, runID := cleanAPIID(out.ApiID), cleanAPIID(out.PhloRunID)
	switch {
	case runID != "":
		return runID, nil
	case apiID != "":
		return apiID, nil
	case out.PhloID == p.phloID:
		return "", nil // the PHLO answered for itself, without a reference
	}
	return "", &Error{Op: "run phlo", StatusCode: status, Message: "answer names neither the phlo nor the run", temporary: true}
}

// Ping fetches the PHLO (GET https://phlorunner.plivo.com/v1/phlo/{phlo_id})
// to check the credentials and PHLO_ID, for example at startup. Send never
// needs it.
func (p *PHLO) Ping(ctx context.Context) error {
	req, err := p.client.NewRequest(http.MethodGet, nil, "phlo/%s", p.phloID)
	if err != nil {
		return &Error{Op: "get phlo", Err: err}
	}
	var out plivo.Phlo
	_, err = p.api.do(ctx, "get phlo", req, &out)
	return err
}

var _ sender.Sender = (*PHLO)(nil)
