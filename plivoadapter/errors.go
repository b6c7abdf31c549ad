package plivoadapter

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go2fa/go2fa/internal/ascii"
)

// Sentinel errors. Errors returned by this package wrap one or more of them,
// so callers branch with errors.Is.
var (
	// ErrInvalidConfig reports a Config or options that cannot work: a
	// missing credential, a malformed URL, a template that would split.
	ErrInvalidConfig = errors.New("plivoadapter: invalid config")
	// ErrPermanent marks a failure that will fail again if retried as is:
	// Plivo answered 4xx (bad number, no balance, bad credentials, unknown
	// PHLO, ...).
	ErrPermanent = errors.New("plivoadapter: permanent failure")
	// ErrTransient marks a failure that may pass if retried later: Plivo
	// answered 429 or 5xx, the call timed out, the connection failed, or
	// the answer could not be read.
	ErrTransient = errors.New("plivoadapter: transient failure")
	// ErrTooLong reports a text that does not fit in a single SMS. The
	// error is a *LengthError.
	ErrTooLong = errors.New("plivoadapter: text does not fit in one sms")
	// ErrTokenStoreFull reports that the in-memory call-token store holds
	// its maximum number of live tokens; the call is not placed.
	ErrTokenStoreFull = errors.New("plivoadapter: call token store full")
)

// Error is a failed request to Plivo. It carries the HTTP status (0 when no
// response arrived), Plivo's error text and api_id when Plivo sent them,
// and the underlying transport, context or decoding error if any.
//
// errors.Is(err, ErrTransient) or errors.Is(err, ErrPermanent) tells the
// two classes apart; errors.Is(err, context.DeadlineExceeded) and similar
// see the underlying error. The message never holds a code, the auth token
// or a full phone number: digit runs in Plivo's text are masked.
//
// An Error is not modified after it is returned: it is safe to share
// between goroutines.
type Error struct {
	// Op is what was attempted: "send sms", "send call", "run phlo", ...
	Op string
	// StatusCode is the HTTP status Plivo answered, or 0 if none arrived.
	StatusCode int
	// Message is Plivo's error text (masked and truncated), if any.
	Message string
	// APIID is Plivo's api_id for the request, if Plivo sent one; quote it
	// to Plivo support.
	APIID string
	// Err is the underlying error (transport, context, decoding), or nil.
	Err error

	temporary bool
}

// Error describes the failure without secrets.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("plivoadapter: ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	switch {
	case e.StatusCode != 0:
		fmt.Fprintf(&b, "plivo answered %d", e.StatusCode)
	default:
		b.WriteString("no answer from plivo")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(describe(e.Err))
	}
	if e.APIID != "" {
		b.WriteString(" (api_id ")
		b.WriteString(e.APIID)
		b.WriteString(")")
	}
	if e.temporary {
		b.WriteString(" [transient]")
	} else {
		b.WriteString(" [permanent]")
	}
	return b.String()
}

// Temporary reports whether retrying later may succeed (429, 5xx,
// timeouts, connection failures, unreadable answers).
func (e *Error) Temporary() bool { return e.temporary }

// Permanent reports whether the same request will fail again (4xx other
// than 408 and 429).
func (e *Error) Permanent() bool { return !e.temporary }

// Unwrap returns ErrTransient or ErrPermanent, and the underlying error.
func (e *Error) Unwrap() []error {
	class := ErrPermanent
	if e.temporary {
		class = ErrTransient
	}
	if e.Err != nil {
		return []error{class, e.Err}
	}
	return []error{class}
}

// transientStatus reports whether an HTTP status is worth retrying.
func transientStatus(code int) bool {
	return code == 408 || code == 429 || code >= 500 || code < 100
}

// describe prints an error without the request URL of a *url.Error (it
// names the account) and with digit runs masked.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + mask(ue.Err.Error())
	}
	return mask(err.Error())
}

// plivoBody extracts api_id and the error text from a Plivo error body;
// Plivo answers {"api_id": "...", "error": "..."} (error may be an object).
func plivoBody(body string) (apiID, msg string) {
	var v struct {
		APIID   string          `json:"api_id"`
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal([]byte(body), &v) == nil {
		var s string
		switch {
		case len(v.Error) > 0 && json.Unmarshal(v.Error, &s) == nil:
			msg = s
		case len(v.Error) > 0 && string(v.Error) != "null":
			msg = string(v.Error)
		default:
			msg = v.Message
		}
		return cleanAPIID(v.APIID), clip(mask(msg))
	}
	return "", clip(mask(strings.TrimSpace(body)))
}

// mask replaces every run of four or more digits, with an optional leading
// "+", so that neither a code nor a phone number survives in error text.
func mask(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		if s[j] == '+' {
			j++
		}
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k-j >= 4 {
			b.WriteString("[digits]")
			i = k
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func clip(s string) string {
	return ascii.Truncate(strings.Join(strings.Fields(s), " "), 200)
}

// cleanAPIID keeps an api_id only if it looks like one (a UUID: hex digits
// and dashes), so a hostile body cannot smuggle text through it.
func cleanAPIID(s string) string {
	if len(s) > 64 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') && c != '-' {
			return ""
		}
	}
	return s
}
