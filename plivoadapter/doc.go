// Package plivoadapter sends go2fa's one-time codes through Plivo, with the
// official client github.com/plivo/plivo-go/v7:
//
//   - PHLO runs a PHLO built from Plivo's Two-Factor Authentication
//     template with {from, to, otp, mode}; one HTTP request per send.
//   - SMS sends a text with Messages.Create from a template checked at
//     construction to fit in one SMS (GSM-7 or UCS-2), with log=false and
//     a message_expiry from the code's lifetime, and serves
//     delivery-status callbacks (StatusHandler) that report failed and
//     undelivered messages to the WithOnFailure function, for a voice
//     fallback.
//   - WhatsApp sends an approved WhatsApp authentication template with
//     Messages.Create (type "whatsapp"), the code as the body's and the
//     copy-code button's parameter; its reports go to the SMS sender's
//     StatusHandler. A code that confirms a payment goes in the
//     WithTransactionTemplate template, with code, amount and payee.
//   - Voice places a call with Calls.Create (hanging up on answering
//     machines) and serves its answer URL (AnswerHandler): Plivo XML that
//     reads the digits one by one, twice, each time after the payment
//     the code confirms, if any. The answer URL carries a one-time,
//     short-lived random token, never the code or the payment.
//
// # Callbacks
//
// The status handler accepts any signature Plivo documents for message
// callbacks: X-Plivo-Signature-V2 or -Ma-V2 (messaging's documented
// scheme) and X-Plivo-Signature-V3 or -Ma-V3, the Ma ones with the main
// account's token (Config.MainAuthToken for subaccounts). The answer
// handler accepts X-Plivo-Signature-V3 only. Signatures are compared in
// constant time and nonces are remembered in a NonceStore: a missing,
// forged, tampered or replayed callback gets 403 and changes nothing.
// Because V2 signs no body and neither version carries a time, a delivery
// report also acts only for a message this sender sent and whose code has
// not expired (MessageStore), at most once per message, and only if its
// MessageTime is recent. The stores default to process memory; several
// instances should share them (for example on Redis). A store error
// refuses the callback.
//
// # Configuration
//
// ConfigFromEnv(os.Getenv) reads PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN,
// PLIVO_NUMBER and PHLO_ID (the names of Plivo's Flask demo), the optional
// PLIVO_API_URL (another origin for the REST API and the PHLO runner) and
// PLIVO_MAIN_AUTH_TOKEN; its *EnvError names every variable it cannot
// use. Constructors (NewPHLO, NewSMS, NewVoice, NewWhatsApp) check their
// configuration and return concrete types that implement sender.Sender.
//
// # Options
//
// What a sender cannot work without is a parameter: the account (Config,
// a plain value), the voice answer URL, the WhatsApp template. Everything
// else is an Option (WithStatusURL, WithMachineDetection, WithClock, ...),
// one type for NewSMS, NewVoice, NewWhatsApp and NewLookup. An option only
// records a value; the constructor checks what was given and fails with
// an error wrapping ErrInvalidConfig that names the option, both for a bad
// value and for an option the constructor does not take (each option's doc
// and each constructor's doc list which take it). An option not given
// leaves its documented default. The memory stores (NewMemoryMessages,
// NewMemoryNonces, NewMemoryTokens) take MemoryOptions, which have no
// invalid values, and never fail.
//
// # Requests, timeouts and contexts
//
// The senders build each request with plivo-go's own NewRequest, so it is
// exactly what plivo-go's service method would send, and send it
// themselves: one HTTP request per Send, never retried, with the Send
// context attached (a context that is already done sends nothing) and
// bounded by Config.HTTPClient's Timeout (DefaultTimeout by default).
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
