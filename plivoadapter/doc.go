// Package plivoadapter sends go2fa's one-time codes through Plivo, with the
// official client github.com/plivo/plivo-go/v7:
//
//   - PHLO runs a PHLO built from Plivo's Two-Factor Authentication
//     template with {from, to, otp, mode}; one HTTP request per send.
//   - SMS sends a text with Messages.Create from a template checked at
//     construction to fit in one SMS (GSM-7 or UCS-2), and serves
//     delivery-status callbacks (StatusHandler) that report failed and
//     undelivered messages to SMSOptions.OnFailure, for a voice fallback.
//   - WhatsApp sends an approved WhatsApp authentication template with
//     Messages.Create (type "whatsapp"), the code as the body's and the
//     copy-code button's parameter; its reports go to the SMS sender's
//     StatusHandler.
//   - Voice places a call with Calls.Create and serves its answer URL
//     (AnswerHandler): Plivo XML that reads the digits one by one, twice.
//     The answer URL carries a one-time, short-lived random token, never
//     the code.
//
// Every callback handler checks X-Plivo-Signature-V3 and its nonce with a
// constant-time comparison and refuses replayed nonces; a missing, forged,
// tampered or replayed callback gets 403 and changes nothing. Nonces are
// remembered in a NonceStore (SMSOptions.Nonces, VoiceOptions.Nonces),
// which by default lives in process memory: a replay is then refused only
// by the process that saw the original, until it restarts. Several
// instances should share one NonceStore (for example on Redis, SET NX PX)
// to refuse a replay everywhere; a store error refuses the callback.
//
// # Configuration
//
// ConfigFromEnv reads PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN, PLIVO_NUMBER and
// PHLO_ID, as Plivo's Flask demo did. Constructors (NewPHLO, NewSMS,
// NewVoice) check their configuration and return concrete types that
// implement sender.Sender.
//
// # Timeouts and contexts
//
// plivo-go's methods take no context. The senders therefore bound every
// request with Config.HTTPClient's Timeout (DefaultTimeout by default), and
// they also build each request with plivo-go and attach the Send context
// before plivo-go executes it: a context that is already done sends
// nothing, and a shorter deadline or a cancellation ends the request.
// plivo-go would retry a voice request that gets a 5xx with a request of
// its own that has no context; Voice turns that off and makes the (at most
// two) retries itself, each with the Send context, so the context's
// deadline bounds the whole of Send.
//
// # Errors
//
// A failed request is an *Error with the HTTP status, Plivo's error text
// and api_id. Plivo's 4xx answers (bad number, auth, no balance, unknown
// PHLO) wrap ErrPermanent; 429, 5xx, timeouts, connection failures and
// unreadable answers wrap ErrTransient. Invalid messages wrap
// sender.ErrInvalidMessage, a channel a sender does not serve wraps
// sender.ErrUnsupportedChannel. No error or log line holds a code, the
// auth token or a full phone number.
//
// # Tests
//
// Package plivotest is an in-process fake of the Plivo API for tests: the
// real plivo-go client talks to it through an *http.Client, it records
// every message, call and PHLO run (code included), plays Plivo against the
// answer and status handlers with correctly signed requests, and fails on
// demand.
package plivoadapter
