package plivoadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	plivo "github.com/plivo/plivo-go/v7"
)

// maxAnswerBody bounds how much of Plivo's answer is read.
const maxAnswerBody = 1 << 20

// api executes the requests that plivo-go builds. plivo-go's service
// methods (Messages.Create, Calls.Create, Phlo.Run) are NewRequest followed
// by ExecuteRequest; the senders call the same NewRequest, so the method,
// path, headers, Basic auth and JSON body are plivo-go's, and send the
// request themselves: exactly one HTTP request per Send, carrying the Send
// context, to the configured origin. plivo-go's ExecuteRequest would drop
// the HTTP status and the body of an error answer, and for voice requests
// it re-hosts the request and retries a 5xx by itself, steered by an
// internal option.
type api struct {
	hc     *http.Client
	origin *url.URL // Config.APIURL; nil keeps plivo-go's host
}

func newAPI(c Config) (api, error) {
	a := api{hc: httpClient(c.HTTPClient)}
	if c.APIURL != "" {
		u, err := parseOrigin(c.APIURL)
		if err != nil {
			return api{}, err
		}
		a.origin = u
	}
	return a, nil
}

// newRESTClient returns plivo-go's REST client for c, which only builds
// requests, and the api that sends them.
func newRESTClient(c Config) (*plivo.Client, api, error) {
	a, err := newAPI(c)
	if err != nil {
		return nil, api{}, err
	}
	cl, err := plivo.NewClient(c.AuthID, c.AuthToken, &plivo.ClientOptions{HttpClient: a.hc})
	if err != nil {
		return nil, api{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return cl, a, nil
}

// do sends req (built by plivo-go) once with ctx attached and maps the
// outcome to nil or an *Error; out receives the decoded 2xx body. It
// returns the HTTP status (0 when no answer arrived).
func (a api) do(ctx context.Context, op string, req *http.Request, out any) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, &Error{Op: op, Err: err, temporary: true}
	}
	req = req.WithContext(ctx)
	if a.origin != nil {
		req.URL.Scheme, req.URL.Host, req.Host = a.origin.Scheme, a.origin.Host, ""
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		// No answer: connection failure, timeout or cancellation.
		return 0, &Error{Op: op, Err: err, temporary: true}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBody))
	status := resp.StatusCode
	switch {
	case status < 200 || status > 299:
		e := &Error{Op: op, StatusCode: status, temporary: transientStatus(status)}
		e.APIID, e.Message = plivoBody(string(body))
		return status, e
	case err != nil:
		return status, &Error{Op: op, StatusCode: status, Message: "unreadable answer", Err: err, temporary: true}
	}
	if err := json.Unmarshal(body, out); err != nil {
		// 2xx but the body did not decode: Plivo may have accepted the
		// request, but we cannot tell what it did.
		return status, &Error{Op: op, StatusCode: status, Message: "unreadable answer", Err: err, temporary: true}
	}
	return status, nil
}

// httpClient returns the client the senders use: a copy of c (or a new one)
// with a timeout. The copy shares c's Transport, so connection pools and
// test fakes keep working.
func httpClient(c *http.Client) *http.Client {
	var hc http.Client
	if c != nil {
		hc = *c
	}
	if hc.Timeout <= 0 {
		hc.Timeout = DefaultTimeout
	}
	return &hc
}
