package plivoadapter

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
)

// maxErrorBody bounds how much of an error answer is kept.
const maxErrorBody = 16 << 10

// executor is what plivo.Client and plivo.PhloClient share: the exported
// request runner their service methods (Messages.Create, Calls.Create,
// Phlo.Run) call after building the request.
type executor interface {
	ExecuteRequest(request *http.Request, body interface{}, extra ...map[string]interface{}) error
}

// exchange records what the transport saw for one request of one Send:
// plivo-go drops the HTTP status (and returns no error at all for a non-2xx
// answer with an empty body), so the status is captured here.
type exchange struct {
	mu     sync.Mutex
	status int
	body   []byte // the body of a non-2xx answer
}

func (x *exchange) result() (int, []byte) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.status, x.body
}

type exchangeKey struct{}

// captureTransport wraps the configured transport and reports the status of
// every request that carries an *exchange in its context.
type captureTransport struct{ base http.RoundTripper }

func (t captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ex, _ := r.Context().Value(exchangeKey{}).(*exchange)
	resp, err := t.base.RoundTrip(r)
	if ex == nil || err != nil {
		return resp, err
	}
	var body []byte
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Keep Plivo's error body: plivo-go drops it for voice 5xx.
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	ex.mu.Lock()
	ex.status, ex.body = resp.StatusCode, body
	ex.mu.Unlock()
	return resp, nil
}

// httpClient returns the client the senders use: a copy of c (or a new one)
// with a timeout and the capturing transport. The copy shares c's
// Transport, so connection pools and test fakes keep working.
func httpClient(c *http.Client) *http.Client {
	var hc http.Client
	if c != nil {
		hc = *c
	}
	if hc.Timeout <= 0 {
		hc.Timeout = DefaultTimeout
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = captureTransport{base: base}
	return &hc
}

// do runs req through ex (plivo-go's own ExecuteRequest, so encoding,
// headers, voice re-hosting and retries stay plivo-go's) with ctx attached,
// and maps the outcome to nil or an *Error. out receives the decoded 2xx
// body. It returns the captured status too, for callers that must look at
// the body of a non-2xx answer (plivo-go's voice retry).
func do(ctx context.Context, ex executor, op string, req *http.Request, out any, extra ...map[string]interface{}) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, &Error{Op: op, Err: err, temporary: true}
	}
	var x exchange
	req = req.WithContext(context.WithValue(ctx, exchangeKey{}, &x))
	err := ex.ExecuteRequest(req, out, extra...)
	status, body := x.result()
	switch {
	case status == 0 && err == nil:
		return 0, &Error{Op: op, Err: errors.New("no response recorded"), temporary: true}
	case status == 0:
		// No answer: connection failure, timeout or cancellation.
		return 0, &Error{Op: op, Err: err, temporary: true}
	case status < 200 || status > 299:
		e := &Error{Op: op, StatusCode: status, temporary: transientStatus(status)}
		e.APIID, e.Message = plivoBody(string(body))
		return status, e
	case err != nil:
		// 2xx but the body did not decode: Plivo may have accepted the
		// request, but we cannot tell what it did.
		return status, &Error{Op: op, StatusCode: status, Message: "unreadable answer", Err: err, temporary: true}
	}
	return status, nil
}
