package plivoadapter

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go2fa/go2fa/internal/ascii"
)

// Environment variables read by ConfigFromEnv. PLIVO_AUTH_ID and
// PLIVO_AUTH_TOKEN are the names plivo-go's NewClient falls back to
// (plivoclient.go in plivo-go v7.60.2); PLIVO_NUMBER and PHLO_ID are the
// names of Plivo's Flask two-factor demo.
const (
	EnvAuthID    = "PLIVO_AUTH_ID"
	EnvAuthToken = "PLIVO_AUTH_TOKEN"
	EnvNumber    = "PLIVO_NUMBER"
	EnvPHLOID    = "PHLO_ID"
	// EnvAPIURL overrides the origin of Plivo's REST API and PHLO runner
	// (Config.APIURL).
	EnvAPIURL = "PLIVO_API_URL"
	// EnvMainAuthToken is the main account's Auth Token when the senders
	// use a subaccount (Config.MainAuthToken).
	EnvMainAuthToken = "PLIVO_MAIN_AUTH_TOKEN"
)

// DefaultTimeout bounds every request to Plivo when Config.HTTPClient is
// nil or has no Timeout of its own.
const DefaultTimeout = 10 * time.Second

// Config is the Plivo account every sender uses. It is a plain value that
// the constructors copy; the *http.Client it points to is shared and must
// be safe for concurrent use, as http.Client is. A Config holds the auth
// token: it prints redacted (String, GoString, LogValue), but keep it out
// of logs anyway.
type Config struct {
	// AuthID is the Plivo Auth ID (PLIVO_AUTH_ID). Required.
	AuthID string
	// AuthToken is the Plivo Auth Token (PLIVO_AUTH_TOKEN). Required. It
	// also verifies the signatures of Plivo's callbacks.
	AuthToken string
	// Number is the source: the Plivo number (E.164) messages and calls
	// come from (PLIVO_NUMBER). Required by every sender; SMS also accepts
	// an alphanumeric sender ID where the destination country allows it.
	Number string
	// PHLOID is the ID of the PHLO built from Plivo's Two-Factor
	// Authentication template (PHLO_ID). Required by NewPHLO only.
	PHLOID string
	// MainAuthToken is the Auth Token of the main account when AuthID and
	// AuthToken are a subaccount's (PLIVO_MAIN_AUTH_TOKEN). Plivo signs
	// message status callbacks twice: X-Plivo-Signature-V2/V3 with the
	// token of the account that sent the message, and
	// X-Plivo-Signature-Ma-V2/Ma-V3 with the main account's token; the
	// status handler accepts either. The default value is "" (AuthToken,
	// right when AuthID is a main account).
	MainAuthToken string
	// APIURL, if set, is the origin ("scheme://host[:port]", no path) that
	// every request goes to instead of Plivo's: the REST API
	// (https://api.plivo.com) and the PHLO runner
	// (https://phlorunner.plivo.com) alike, with their paths unchanged
	// (/v1/Account/... and /v1/account/.../phlo/...). For tests, proxies
	// and regional endpoints; plain http://127.0.0.1:PORT is accepted.
	// The default value is "" (Plivo's hosts).
	APIURL string
	// HTTPClient carries every request to Plivo, one per Send. Its
	// Timeout is the hard bound of each request; the senders attach the
	// Send context too, so a shorter ctx deadline or a cancellation ends
	// Send early. The default value is a client with DefaultTimeout; a client
	// with a zero Timeout gets DefaultTimeout too. Its Transport
	// (http.DefaultTransport if nil) is reused, so tests can pass
	// plivotest.Server.Client().
	HTTPClient *http.Client
}

// ConfigFromEnv builds a Config from the environment variables EnvAuthID,
// EnvAuthToken, EnvNumber, EnvPHLOID, EnvMainAuthToken and EnvAPIURL, read
// with getenv (os.Getenv in a main, a map lookup in a test). The first
// three are required; PHLO_ID is optional (empty means "send directly, not
// through a PHLO"), and so are the last two. Values are trimmed of spaces.
//
// On error the Config holds what was read and the error is an *EnvError
// (wrapping ErrInvalidConfig) naming every required variable that is empty
// and every variable whose value is refused (a PLIVO_API_URL that is not an
// origin), never a value. HTTPClient is left nil for the caller to set.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := Config{
		AuthID:        get(EnvAuthID),
		AuthToken:     get(EnvAuthToken),
		Number:        get(EnvNumber),
		PHLOID:        get(EnvPHLOID),
		MainAuthToken: get(EnvMainAuthToken),
		APIURL:        get(EnvAPIURL),
	}
	var e EnvError
	for _, kv := range [][2]string{{EnvAuthID, c.AuthID}, {EnvAuthToken, c.AuthToken}, {EnvNumber, c.Number}} {
		if kv[1] == "" {
			e.Missing = append(e.Missing, kv[0])
		}
	}
	if c.APIURL != "" {
		if _, err := parseOrigin(c.APIURL); err != nil {
			e.Invalid = append(e.Invalid, EnvAPIURL)
		}
	}
	if len(e.Missing) > 0 || len(e.Invalid) > 0 {
		return c, &e
	}
	return c, nil
}

// EnvError is the error of ConfigFromEnv: the names of the environment
// variables it could not use, never their values. It wraps
// ErrInvalidConfig. An EnvError is not modified after it is returned: it
// is safe to share between goroutines.
type EnvError struct {
	// Missing names the required variables that are empty or unset, in
	// the order EnvAuthID, EnvAuthToken, EnvNumber.
	Missing []string
	// Invalid names the variables whose value is refused.
	Invalid []string
}

// Error lists the missing and the refused variables.
func (e *EnvError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "missing environment variable(s) "+strings.Join(e.Missing, ", "))
	}
	for _, name := range e.Invalid {
		parts = append(parts, name+" is not valid")
		if name == EnvAPIURL {
			parts[len(parts)-1] = name + " must be an origin such as https://api.example.com or http://127.0.0.1:8080"
		}
	}
	return ErrInvalidConfig.Error() + ": " + strings.Join(parts, "; ")
}

// Unwrap returns ErrInvalidConfig.
func (e *EnvError) Unwrap() error { return ErrInvalidConfig }

// parseOrigin parses Config.APIURL: http or https, a host, and nothing
// else (an empty path or "/").
func parseOrigin(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: APIURL (%s) must be an origin such as https://api.example.com or http://127.0.0.1:8080", ErrInvalidConfig, EnvAPIURL)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// mainToken is the token of Ma signatures.
func (c Config) mainToken() string {
	if c.MainAuthToken != "" {
		return c.MainAuthToken
	}
	return c.AuthToken
}

// validate checks the account part of c; phone says whether Number must
// be a phone number (voice, PHLO) rather than possibly a sender ID.
func (c Config) validate(phone, phlo bool) error { return c.check(phone, phlo, true) }

// check is validate; needNumber false lets Number be empty (SMS through a
// Powerpack).
func (c Config) check(phone, phlo, needNumber bool) error {
	var errs []error
	if c.AuthID == "" {
		errs = append(errs, errors.New("AuthID ("+EnvAuthID+") is empty"))
	}
	if c.AuthToken == "" {
		errs = append(errs, errors.New("AuthToken ("+EnvAuthToken+") is empty"))
	}
	switch {
	case c.Number == "" && !needNumber:
	case c.Number == "":
		errs = append(errs, errors.New("number ("+EnvNumber+") is empty"))
	case phone && !isPhone(c.Number):
		errs = append(errs, errors.New("number ("+EnvNumber+") is not a phone number"))
	case !phone && !isPhone(c.Number) && !isSenderID(c.Number):
		errs = append(errs, errors.New("number ("+EnvNumber+") is neither a phone number nor a sender id"))
	}
	if phlo && c.PHLOID == "" {
		errs = append(errs, errors.New("PHLOID ("+EnvPHLOID+") is empty"))
	}
	if c.APIURL != "" {
		if _, err := parseOrigin(c.APIURL); err != nil {
			errs = append(errs, errors.New("APIURL ("+EnvAPIURL+") is not an http(s) origin"))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
}

// String describes c without the auth token.
func (c Config) String() string {
	return fmt.Sprintf("plivoadapter.Config{AuthID: %q, AuthToken: %s, Number: %q, PHLOID: %q, MainAuthToken: %s, APIURL: %q}",
		c.AuthID, redacted(c.AuthToken), c.Number, c.PHLOID, redacted(c.MainAuthToken), c.APIURL)
}

// GoString is like String, so %#v does not print the token either.
func (c Config) GoString() string { return c.String() }

// LogValue makes slog print c without the auth token.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("auth_id", c.AuthID),
		slog.String("auth_token", redacted(c.AuthToken)),
		slog.String("number", c.Number),
		slog.String("phlo_id", c.PHLOID),
		slog.String("main_auth_token", redacted(c.MainAuthToken)),
		slog.String("api_url", c.APIURL),
	)
}

func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "[redacted]"
}

// isPhone accepts "+" (optional) and 6 to 15 digits.
func isPhone(s string) bool {
	s = strings.TrimPrefix(s, "+")
	return len(s) >= 6 && len(s) <= 15 && ascii.Digits(s)
}

// isSenderID accepts an alphanumeric sender ID: 1 to 11 ASCII letters,
// digits and spaces, with at least one letter.
func isSenderID(s string) bool {
	if len(s) == 0 || len(s) > 11 {
		return false
	}
	letter := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9', c == ' ':
		default:
			return false
		}
	}
	return letter
}

// publicURL parses a callback URL Plivo must reach: absolute http(s) with a
// host and no fragment.
func publicURL(field, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%w: %s must be an absolute http(s) URL Plivo can reach", ErrInvalidConfig, field)
	}
	return u, nil
}
