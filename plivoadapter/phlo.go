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
// https://phlorunner.plivo.com/v1/account/{auth_id}/phlo/{phlo_id}/). The
// Flask demo fetched the PHLO (a GET) before every run; plivo-go's
// Phlos.Get returns a handle whose Run only needs the PHLO ID, so this
// sender builds the run request with plivo-go's PhloClient directly and
// never fetches. Use Ping at startup to check that PHLO_ID exists. It is
// safe for concurrent use.
type PHLO struct {
	client *plivo.PhloClient
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
	cl, err := plivo.NewPhloClient(c.AuthID, c.AuthToken, &plivo.ClientOptions{HttpClient: httpClient(c.HTTPClient)})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return &PHLO{client: cl, authID: c.AuthID, phloID: c.PHLOID, from: c.Number}, nil
}

// Send runs the PHLO for m: mode "sms" for sender.SMS, "call" for
// sender.Call; the Two-Factor Authentication template has no WhatsApp
// mode, so sender.WhatsApp fails with sender.ErrUnsupportedChannel. A
// done ctx runs nothing; Plivo failures are *Error, and so is a 2xx answer
// without a phlo_run_id (transient: it does not say whether the PHLO ran).
func (p *PHLO) Send(ctx context.Context, m sender.Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.Channel != sender.SMS && m.Channel != sender.Call {
		return fmt.Errorf("plivoadapter: phlo sender: %w: %s", sender.ErrUnsupportedChannel, m.Channel)
	}
	payload := map[string]interface{}{"from": p.from, "to": m.To, "otp": m.Code, "mode": string(m.Channel)}
	// This is plivo-go's Phlo.Run, with the request carrying ctx.
	req, err := p.client.NewRequest(http.MethodPost, payload, "account/%s/phlo/%s/", p.authID, p.phloID)
	if err != nil {
		return &Error{Op: "run phlo", Err: err}
	}
	var out plivo.PhloRun
	status, err := do(ctx, p.client, "run phlo", req, &out)
	if err != nil {
		return err
	}
	if out.PhloRunID == "" {
		// A 2xx that does not say which run started: as for SMS and
		// voice, we cannot tell whether anything was sent.
		return &Error{Op: "run phlo", StatusCode: status, APIID: cleanAPIID(out.ApiID), Message: "answer without phlo_run_id", temporary: true}
	}
	return nil
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
	_, err = do(ctx, p.client, "get phlo", req, &out)
	return err
}

var _ sender.Sender = (*PHLO)(nil)
