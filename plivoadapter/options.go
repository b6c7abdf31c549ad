package plivoadapter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store"
)

// Option is an optional setting of NewSMS, NewVoice, NewWhatsApp or
// NewLookup. An option only records its value; the constructor checks it
// and returns an error wrapping ErrInvalidConfig that names the option when
// the value is bad or when the option does not apply to that constructor
// (WithMachineDetection given to NewSMS, say). Each option's doc lists the
// constructors it applies to. Given twice, the last value wins.
type Option func(*options)

// optionID names an Option, for the applicability check and for errors.
type optionID uint8

const (
	optStatusURL optionID = iota + 1
	optStatusMethod
	optKeepInPlivoLogs
	optMessages
	optNonces
	optNonceWindow
	optClock
	optLogger
	optTemplate
	optBrand
	optPowerpack
	optDLT
	optTexts
	optOnFailure
	optOnDelivered
	optTokenTTL
	optTokens
	optAnswerGrace
	optMachineDetection
	optTimeLimit
	optCallerName
	optLanguage
	optRand
	optWhatsAppNumber
	optTransactionTemplate
	optRefuseSMS
	optRefuseCall
	optRefuseUnknownCarrier
	optFailOpen
	optCache
	optCacheTTL
)

var optionNames = [...]string{
	optStatusURL:            "WithStatusURL",
	optStatusMethod:         "WithStatusMethod",
	optKeepInPlivoLogs:      "WithKeepInPlivoLogs",
	optMessages:             "WithMessages",
	optNonces:               "WithNonces",
	optNonceWindow:          "WithNonceWindow",
	optClock:                "WithClock",
	optLogger:               "WithLogger",
	optTemplate:             "WithTemplate",
	optBrand:                "WithBrand",
	optPowerpack:            "WithPowerpack",
	optDLT:                  "WithDLT",
	optTexts:                "WithTexts",
	optOnFailure:            "WithOnFailure",
	optOnDelivered:          "WithOnDelivered",
	optTokenTTL:             "WithTokenTTL",
	optTokens:               "WithTokens",
	optAnswerGrace:          "WithAnswerGrace",
	optMachineDetection:     "WithMachineDetection",
	optTimeLimit:            "WithTimeLimit",
	optCallerName:           "WithCallerName",
	optLanguage:             "WithLanguage",
	optRand:                 "WithRand",
	optWhatsAppNumber:       "WithWhatsAppNumber",
	optTransactionTemplate:  "WithTransactionTemplate",
	optRefuseSMS:            "WithRefuseSMS",
	optRefuseCall:           "WithRefuseCall",
	optRefuseUnknownCarrier: "WithRefuseUnknownCarrier",
	optFailOpen:             "WithFailOpen",
	optCache:                "WithCache",
	optCacheTTL:             "WithCacheTTL",
}

func (id optionID) String() string { return optionNames[id] }

// The options each constructor accepts.
var (
	smsOptions = []optionID{optStatusURL, optStatusMethod, optKeepInPlivoLogs, optMessages, optNonces, optNonceWindow,
		optClock, optLogger, optTemplate, optBrand, optPowerpack, optDLT, optTexts, optOnFailure, optOnDelivered}
	voiceOptions = []optionID{optNonces, optNonceWindow, optClock, optLogger, optTokenTTL, optTokens, optAnswerGrace,
		optMachineDetection, optTimeLimit, optCallerName, optLanguage, optRand}
	whatsAppOptions = []optionID{optStatusURL, optStatusMethod, optKeepInPlivoLogs, optMessages, optClock, optLogger,
		optWhatsAppNumber, optTransactionTemplate}
	lookupOptions = []optionID{optClock, optRefuseSMS, optRefuseCall, optRefuseUnknownCarrier, optFailOpen, optCache,
		optCacheTTL}
)

// options holds what the Options recorded; given says which were given.
type options struct {
	given uint64

	statusURL    string
	statusMethod string
	keepLogs     bool
	messages     MessageStore
	nonces       NonceStore
	nonceWindow  time.Duration
	now          func() time.Time
	logger       *slog.Logger

	template    string
	brand       string
	powerpack   string
	dlt         DLT
	texts       sender.Texts
	onFailure   func(context.Context, Delivery)
	onDelivered func(context.Context, Delivery)

	tokenTTL    time.Duration
	tokens      TokenStore
	answerGrace time.Duration
	machine     string
	timeLimit   time.Duration
	callerName  string
	language    string
	rand        io.Reader

	whatsAppNumber      string
	transactionTemplate WhatsAppTemplate

	refuseSMS     []LineType
	refuseCall    []LineType
	refuseUnknown bool
	failOpen      bool
	cache         store.Counters
	cacheSecret   []byte
	cacheTTL      time.Duration
}

func (o *options) set(id optionID)      { o.given |= 1 << id }
func (o *options) has(id optionID) bool { return o.given&(1<<id) != 0 }

// collect applies opts and refuses any that constructor does not accept.
func collect(constructor string, accepts []optionID, opts []Option) (*options, error) {
	o := &options{}
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	allowed := uint64(0)
	for _, id := range accepts {
		allowed |= 1 << id
	}
	for id := optionID(1); int(id) < len(optionNames); id++ {
		if o.has(id) && allowed&(1<<id) == 0 {
			return nil, fmt.Errorf("%w: %s does not apply to %s", ErrInvalidConfig, id, constructor)
		}
	}
	return o, nil
}

// invalid returns an error wrapping ErrInvalidConfig naming option id.
func invalid(id optionID, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, id, fmt.Sprintf(format, args...))
}

// positive returns the value of duration option id if given (it must be
// positive), or def.
func (o *options) positive(id optionID, d, def time.Duration) (time.Duration, error) {
	if !o.has(id) {
		return def, nil
	}
	if d <= 0 {
		return 0, invalid(id, "must be positive")
	}
	return d, nil
}

// WithStatusURL is the public URL at which Plivo reaches the SMS sender's
// StatusHandler: every message then asks Plivo for delivery-status
// callbacks there. Given to NewWhatsApp, point it at the SMS sender's
// StatusHandler too, so that one signed handler serves both channels (and
// give WithMessages the SMS sender's store). Without it no callbacks are
// asked for. For NewSMS and NewWhatsApp.
func WithStatusURL(statusURL string) Option {
	return func(o *options) { o.statusURL = statusURL; o.set(optStatusURL) }
}

// WithStatusMethod is the HTTP method of the status callbacks, "POST" or
// "GET". The default is "POST". For NewSMS and NewWhatsApp.
func WithStatusMethod(method string) Option {
	return func(o *options) { o.statusMethod = method; o.set(optStatusMethod) }
}

// WithKeepInPlivoLogs lets Plivo keep the text and the full destination
// number in its message logs and console. Without it every message is sent
// with Plivo's log=false: Plivo stores no text and masks the number. For
// NewSMS and NewWhatsApp.
func WithKeepInPlivoLogs() Option {
	return func(o *options) { o.keepLogs = true; o.set(optKeepInPlivoLogs) }
}

// WithMessages is the store that remembers, under Plivo's message UUID, the
// messages sent with a status URL until their code expires: a report for a
// message it does not hold is refused (404). For NewSMS the default is
// NewMemoryMessages(), right for one process; several instances that
// share the status URL must share one MessageStore (plivoredis.Messages
// on Redis). NewWhatsApp has no default: with WithStatusURL it needs the
// SMS sender's store. For NewSMS and NewWhatsApp; the store must not be
// nil and must be safe for concurrent use.
func WithMessages(m MessageStore) Option {
	return func(o *options) { o.messages = m; o.set(optMessages) }
}

// WithNonces is the store that remembers the callbacks already accepted
// (and, for SMS, the messages whose failure was reported). The default is
// NewMemoryNonces(): right for one process, but a captured request can then
// be replayed after a restart or to another instance; several instances
// should share one NonceStore (plivoredis.Nonces on Redis). A store error
// refuses the callback. For NewSMS and NewVoice; the store must not be nil
// and must be safe for concurrent use.
func WithNonces(n NonceStore) Option {
	return func(o *options) { o.nonces = n; o.set(optNonces) }
}

// WithNonceWindow is how long callback nonces are remembered to refuse
// replays; for SMS also how old a report's MessageTime may be and the
// longest a sent message is remembered. It must be positive; the default
// is DefaultNonceWindow. For NewSMS and NewVoice.
func WithNonceWindow(d time.Duration) Option {
	return func(o *options) { o.nonceWindow = d; o.set(optNonceWindow) }
}

// WithClock is the clock; the default is time.Now. now must not be nil and
// must be safe for concurrent use. For NewSMS, NewVoice, NewWhatsApp and
// NewLookup (its cache).
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now; o.set(optClock) }
}

// WithLogger receives one line per refused or failed callback (for
// WhatsApp: per failure of the MessageStore), with numbers masked and never
// a code. The default is no logs. For NewSMS, NewVoice and NewWhatsApp.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l; o.set(optLogger) }
}

// WithTemplate is the SMS text, with PlaceholderCode and optionally
// PlaceholderTTL. It must fit in one SMS (160 GSM-7 units, or 70 if it
// needs UCS-2) with the longest code (10 digits) and TTL wording; a
// template that could split is refused with a *LengthError. Without it the
// sender uses the wording of each message's locale (see WithTexts). For
// NewSMS.
func WithTemplate(t string) Option {
	return func(o *options) { o.template = t; o.set(optTemplate) }
}

// WithBrand prefixes the text as "Brand: ...". For NewSMS.
func WithBrand(brand string) Option {
	return func(o *options) { o.brand = brand; o.set(optBrand) }
}

// WithPowerpack sends through this Powerpack (Plivo's powerpack_uuid)
// instead of from Config.Number (src), which may then be empty; common
// for US 10DLC and toll-free traffic. For NewSMS.
func WithPowerpack(uuid string) Option {
	return func(o *options) { o.powerpack = uuid; o.set(optPowerpack) }
}

// WithDLT is India's DLT registration, sent with every message to an
// Indian number (+91). For NewSMS.
func WithDLT(d DLT) Option {
	return func(o *options) { o.dlt = d; o.set(optDLT) }
}

// WithTexts renders the text in the Message's language (Message.Locale)
// when there is no WithTemplate: wordings, WebOTP domain, Android app hash
// (WithBrand fills Texts.Brand if that is empty). NewSMS copies t; do not
// change its Wordings map afterwards. The default is the built-in wordings
// of package sender. For NewSMS.
func WithTexts(t sender.Texts) Option {
	return func(o *options) { o.texts = t; o.set(optTexts) }
}

// WithOnFailure is called by StatusHandler at most once per sent message
// whose status becomes "failed" or "undelivered" (also the legacy
// "rejected"), with the Message.Ref the message was sent with, for example
// to offer or start the voice fallback. "Once" holds for as long as the
// message is remembered (WithMessages), per process with the default
// stores and across instances and restarts with shared ones. It runs on
// the callback's request: return quickly, and use
// context.WithoutCancel(ctx) for work that outlives it. It needs
// WithStatusURL and must be safe for concurrent use. For NewSMS.
func WithOnFailure(f func(ctx context.Context, d Delivery)) Option {
	return func(o *options) { o.onFailure = f; o.set(optOnFailure) }
}

// WithOnDelivered is called by StatusHandler at most once per sent message
// whose status becomes "delivered" (or "read", which WhatsApp reports
// after it), with the same guarantees as WithOnFailure; for example to
// cancel a fallback after silence (otp.Verifier.Delivered). It needs
// WithStatusURL. For NewSMS.
func WithOnDelivered(f func(ctx context.Context, d Delivery)) Option {
	return func(o *options) { o.onDelivered = f; o.set(optOnDelivered) }
}

// WithTokenTTL is how long a call's answer URL stays usable. It must be
// positive; the default is DefaultTokenTTL. For NewVoice.
func WithTokenTTL(d time.Duration) Option {
	return func(o *options) { o.tokenTTL = d; o.set(optTokenTTL) }
}

// WithTokens is the store of the prompts of calls in progress. The default
// is NewMemoryTokens(): right for one process; use a shared store when
// several instances serve the answer URL (plivoredis.Tokens on Redis). It
// must not be nil and must be safe for concurrent use. For NewVoice.
func WithTokens(t TokenStore) Option {
	return func(o *options) { o.tokens = t; o.set(optTokens) }
}

// WithAnswerGrace is how long after the first fetch of an answer URL a
// signed re-fetch for the same call (same CallUUID) gets the same XML. It
// must be positive; the default is DefaultAnswerGrace. For NewVoice.
func WithAnswerGrace(d time.Duration) Option {
	return func(o *options) { o.answerGrace = d; o.set(optAnswerGrace) }
}

// WithMachineDetection is MachineHangup, MachineDetect or MachineOff. The
// default is MachineHangup. For NewVoice.
func WithMachineDetection(mode string) Option {
	return func(o *options) { o.machine = mode; o.set(optMachineDetection) }
}

// WithTimeLimit is the longest a call may last once answered (Plivo's
// time_limit, rounded up to whole seconds). It must be positive; the
// default is DefaultTimeLimit. For NewVoice.
func WithTimeLimit(d time.Duration) Option {
	return func(o *options) { o.timeLimit = d; o.set(optTimeLimit) }
}

// WithCallerName is the caller name shown where the network passes it on
// (caller_name, at most 50 printable characters). Without it none is sent
// (Plivo's default). For NewVoice.
func WithCallerName(name string) Option {
	return func(o *options) { o.callerName = name; o.set(optCallerName) }
}

// WithLanguage is the <Speak> language when the Message has no Locale or
// one Plivo does not offer; it must be one SpeakLanguage accepts. The
// default is "en-US". For NewVoice.
func WithLanguage(lang string) Option {
	return func(o *options) { o.language = lang; o.set(optLanguage) }
}

// WithRand is the source of call tokens. The default is
// crypto/rand.Reader. It must not be nil and must be safe for concurrent
// use. For NewVoice.
func WithRand(r io.Reader) Option {
	return func(o *options) { o.rand = r; o.set(optRand) }
}

// WithWhatsAppNumber is the WhatsApp Business number, in E.164, that Plivo
// sends from (src): the number of the WhatsApp Business Account mapped to
// the Plivo account. The default is Config.Number. For NewWhatsApp.
func WithWhatsAppNumber(e164 string) Option {
	return func(o *options) { o.whatsAppNumber = e164; o.set(optWhatsAppNumber) }
}

// WithTransactionTemplate is an approved WhatsApp template (category
// UTILITY) for codes that confirm a payment: its body takes three text
// parameters, in this order, the code ({{1}}), the amount as "EUR 12.50"
// ({{2}}) and the payee ({{3}}), and it has no other parameter; Languages
// lists the languages it is approved in, chosen as for the authentication
// template. An authentication template cannot carry them: WhatsApp fixes
// its text and takes the code alone. Without it a message with a
// Transaction is refused with sender.ErrTransactionUnsupported, and
// CarriesTransaction is false. For NewWhatsApp.
func WithTransactionTemplate(t WhatsAppTemplate) Option {
	return func(o *options) { o.transactionTemplate = t; o.set(optTransactionTemplate) }
}

// WithRefuseSMS lists the line types refused for sender.SMS (none if
// called with none). The default is fixed, voip and toll-free: numbers
// that cannot receive an SMS or are cheap to rent by the thousand. For
// NewLookup.
func WithRefuseSMS(types ...LineType) Option {
	return func(o *options) { o.refuseSMS = types; o.set(optRefuseSMS) }
}

// WithRefuseCall lists the line types refused for sender.Call. The default
// refuses none (a landline answers a call). For NewLookup.
func WithRefuseCall(types ...LineType) Option {
	return func(o *options) { o.refuseCall = types; o.set(optRefuseCall) }
}

// WithRefuseUnknownCarrier refuses numbers whose carrier Plivo cannot name
// or whose type is "unknown", on every channel. Without it they go through
// (unless their type is refused). For NewLookup.
func WithRefuseUnknownCarrier() Option {
	return func(o *options) { o.refuseUnknown = true; o.set(optRefuseUnknownCarrier) }
}

// WithFailOpen lets a send through when the lookup fails (Plivo down, a
// timeout, the cache failing). Without it Check returns the failure, which
// makes otp.Verifier refuse the send (fail closed). For NewLookup.
func WithFailOpen() Option {
	return func(o *options) { o.failOpen = true; o.set(optFailOpen) }
}

// WithCache keeps answers in c so that a number is looked up at most once
// per cache TTL, shared by every instance when the store is (redisstore).
// secret keys the HMAC that names a number in the cache, so the cache
// holds no number in clear: at least 32 bytes, stable across instances.
// Without it every number is looked up. For NewLookup.
func WithCache(c store.Counters, secret []byte) Option {
	return func(o *options) { o.cache, o.cacheSecret = c, secret; o.set(optCache) }
}

// WithCacheTTL is the shortest time an answer is kept (it may be kept up
// to a quarter longer): at least 4 seconds; the default is 24 hours. It
// needs WithCache. For NewLookup.
func WithCacheTTL(d time.Duration) Option {
	return func(o *options) { o.cacheTTL = d; o.set(optCacheTTL) }
}

// MemoryOption is an optional setting of NewMemoryMessages,
// NewMemoryNonces and NewMemoryTokens. Those constructors have no invalid
// input and never fail: an option's zero value keeps the default.
type MemoryOption func(*memoryOptions)

type memoryOptions struct {
	max int
	now func() time.Time
}

func memory(def int, opts []MemoryOption) memoryOptions {
	var o memoryOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	if o.max <= 0 {
		o.max = def
	}
	if o.now == nil {
		o.now = time.Now
	}
	return o
}

// WithCapacity bounds the number of entries a memory store holds; n <= 0
// keeps the default (DefaultMaxMessages, DefaultMaxNonces or
// DefaultMaxTokens).
func WithCapacity(n int) MemoryOption {
	return func(o *memoryOptions) { o.max = n }
}

// WithStoreClock is a memory store's clock; nil keeps time.Now. It must be
// safe for concurrent use.
func WithStoreClock(now func() time.Time) MemoryOption {
	return func(o *memoryOptions) { o.now = now }
}

// statusTarget checks WithStatusMethod and WithStatusURL: the method
// (POST by default) and the URL (nil without WithStatusURL).
func (o *options) statusTarget() (string, *url.URL, error) {
	method := http.MethodPost
	if o.has(optStatusMethod) {
		method = strings.ToUpper(o.statusMethod)
		if method != http.MethodPost && method != http.MethodGet {
			return "", nil, invalid(optStatusMethod, "must be POST or GET")
		}
	}
	if !o.has(optStatusURL) {
		return method, nil, nil
	}
	u, err := publicURL(optStatusURL.String(), o.statusURL)
	if err != nil {
		return "", nil, err
	}
	return method, u, nil
}

// nonceStore checks WithNonces: the store given, or a memory store on now.
func (o *options) nonceStore(now func() time.Time) (NonceStore, error) {
	if !o.has(optNonces) {
		return NewMemoryNonces(WithStoreClock(now)), nil
	}
	if o.nonces == nil {
		return nil, invalid(optNonces, "nil store")
	}
	return o.nonces, nil
}

// clock checks WithClock: the clock given, or time.Now.
func (o *options) clock() (func() time.Time, error) {
	if !o.has(optClock) {
		return time.Now, nil
	}
	if o.now == nil {
		return nil, invalid(optClock, "nil clock")
	}
	return o.now, nil
}
