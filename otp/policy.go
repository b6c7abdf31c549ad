package otp

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/go2fa/go2fa/sender"
	"github.com/nyaruka/phonenumbers"
)

// Policy holds the rules of a Verifier. A zero field takes the default named
// in its comment, so the zero Policy is DefaultPolicy(). NewVerifier
// rejects a Policy outside the stated bounds.
type Policy struct {
	// CodeLength is the number of digits of a code, 4–10. The default value
	// is 6.
	CodeLength int
	// TTL is how long a code stays valid, at most 10 minutes (NIST SP
	// 800-63B 5.1.3.2). The default value is 5 minutes.
	TTL time.Duration
	// MaxAttempts is the number of wrong guesses that lock a code, 1–10.
	// A resend or a channel switch keeps the count. The default value is 5.
	MaxAttempts int
	// Cooldown is the minimum time between two sends to one destination
	// from one client key (WithLimitKey; calls without one share a key).
	// The default value is 30 seconds; a negative value disables it.
	Cooldown time.Duration
	// SendsPerWindow and SendWindow bound the sends to one destination
	// from one client key. They also set the destination's send ceiling:
	// once SendsPerWindow codes went to it from all client keys in a
	// fixed SendWindow (from the first of them), a key that was sent a
	// code in it and has had none approved since is refused until the
	// window ends; a key that has not been sent one yet, or had its code
	// approved, is not. So k keys get at most SendsPerWindow + k codes
	// sent to one destination per window, plus one per approval. The
	// default values are 5 sends per hour.
	SendsPerWindow int
	SendWindow     time.Duration
	// MaxFailures caps failed checks for one destination (NIST SP 800-63B
	// 5.2.2: at most 100), per client key (WithLimitKey) within a run of
	// the destination's failures. A run lasts until FailureWindow passes
	// without a failed check from any client. A client key is refused
	// (checks Locked even with the right code, sends refused) when its own
	// failures in the run reach MaxFailures, or when the destination's
	// failures reach MaxFailures and the key has failed in the run. A key
	// that has not failed in the run, such as the owner's, is still served
	// and compared; so each key is new to a run at most once, and k keys
	// get at most MaxFailures + k compared failures in it. An approval
	// forgives its own key's failures only. Only checks in the code's
	// binding count (see WithBinding). A Rejected result's Remaining
	// counts down to whichever limit comes first. The default value is
	// 20; the maximum is 100.
	MaxFailures int
	// FailureCeiling is the most failed checks one destination takes from
	// all clients together in any FailureWindow; at the ceiling every
	// check and send for it is refused until FailureWindow has passed
	// since the latest failure. The default value is 100; it must be
	// between MaxFailures and 100.
	FailureCeiling int
	// FailureWindow is how long failed checks are remembered after the
	// latest one. The default value is 24 hours.
	FailureWindow time.Duration
	// AllowedRegions lists the ISO 3166-1 alpha-2 regions ("US", "GB")
	// whose numbers may receive codes. The default value, empty, allows all.
	AllowedRegions []string
	// AllowNumberTypes names costly number types that may receive codes
	// all the same. Premium-rate, shared-cost, UAN, personal and pager
	// numbers are refused by default (ErrNumberTypeNotAllowed), because
	// calls and messages to them can pay their owner; other types are
	// always allowed (refuse VoIP or landlines with Config.BeforeSend).
	// The default value, empty, allows none of the costly types.
	AllowNumberTypes []NumberType
	// Channels lists the allowed channels. The default value, empty, allows
	// sender.SMS and sender.Call; sender.WhatsApp, which needs an approved
	// WhatsApp template at the provider, is allowed only when listed.
	Channels []sender.Channel
	// KeySends and KeyWindow bound the sends charged to one per-call limit
	// key (WithLimitKey: a client IP, an account). The default values are
	// 10 sends per hour.
	KeySends  int
	KeyWindow time.Duration
	// GlobalSends and GlobalWindow bound all sends of the Verifier's store
	// together, a ceiling on SMS-pumping fraud. The default value of
	// GlobalSends, 0, means no global budget; GlobalWindow defaults to one
	// minute.
	GlobalSends  int
	GlobalWindow time.Duration
	// KeepCode re-sends the same code while it is valid (what Twilio and
	// Plivo Verify do) instead of replacing it with a new one (the OWASP
	// recommendation, and the default). The kept code is stored encrypted
	// with AES-GCM under a key derived from the secret.
	KeepCode bool
	// Fallback enables Verifier.Fallback: the code pending for a
	// verification can be re-sent once per channel of FallbackChain (an
	// SMS that was not delivered, followed by a voice call speaking the
	// same code),
	// reached from a delivery report by the message's Ref alone. Every code
	// is then kept with its verification, sealed with AES-GCM under a key
	// derived from the secret, together with the number, channel and locale
	// it was sent with; and every Message.Ref is a signed reference to its
	// code (see Verifier.Fallback) instead of the destination's
	// fingerprint. The Store must implement store.FallbackStore. The
	// default value is false.
	Fallback bool
	// FallbackChain is the order of channels a fallback follows
	// (Verifier.FallbackNext and the fallback after silence): a code sent
	// on one channel falls back to the next one. The default value is
	// sms, then call.
	FallbackChain []sender.Channel
	// FallbackAfter, when positive, falls back by itself when no delivery
	// report says "delivered" (Verifier.Delivered) within this delay of a
	// send: Start schedules the fallback in the Store, which must then
	// implement store.FallbackQueue, and a FallbackWorker sends it. It
	// needs Fallback, and must be shorter than TTL. The default value, 0,
	// disables it.
	FallbackAfter time.Duration
	// Pumping configures the SMS-pumping guard, on by default; see
	// PumpingPolicy.
	Pumping PumpingPolicy
}

// DefaultPolicy returns the default rules: 6 digits, 5 minutes, 5 attempts,
// 30 s cooldown and 5 sends per destination per hour per client key, 20
// failures per client key in a destination's run and 100 for all keys, 10
// sends per limit key per hour, SMS and call, all regions.
func DefaultPolicy() Policy { return Policy{}.withDefaults() }

func (p Policy) withDefaults() Policy {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&p.CodeLength, DefaultCodeLength)
	defD(&p.TTL, 5*time.Minute)
	def(&p.MaxAttempts, 5)
	defD(&p.Cooldown, 30*time.Second)
	def(&p.SendsPerWindow, 5)
	defD(&p.SendWindow, time.Hour)
	def(&p.MaxFailures, 20)
	def(&p.FailureCeiling, 100)
	defD(&p.FailureWindow, 24*time.Hour)
	def(&p.KeySends, 10)
	defD(&p.KeyWindow, time.Hour)
	defD(&p.GlobalWindow, time.Minute)
	if len(p.Channels) == 0 {
		p.Channels = []sender.Channel{sender.SMS, sender.Call}
	}
	if len(p.FallbackChain) == 0 {
		p.FallbackChain = []sender.Channel{sender.SMS, sender.Call}
	}
	p.Pumping = p.Pumping.withDefaults()
	return p
}

// Validate reports whether p (after defaults) is within bounds. Errors wrap
// ErrInvalidConfig.
func (p Policy) Validate() error {
	p = p.withDefaults()
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: policy: "+format, append([]any{ErrInvalidConfig}, a...)...)
	}
	switch {
	case p.CodeLength < MinCodeLength || p.CodeLength > MaxCodeLength:
		return bad("CodeLength %d not in %d–%d", p.CodeLength, MinCodeLength, MaxCodeLength)
	case p.TTL < time.Second || p.TTL > 10*time.Minute:
		return bad("TTL %s not in 1s–10m", p.TTL)
	case p.MaxAttempts < 1 || p.MaxAttempts > 10:
		return bad("MaxAttempts %d not in 1–10", p.MaxAttempts)
	case p.SendsPerWindow < 1 || p.SendWindow < time.Second:
		return bad("SendsPerWindow and SendWindow must be positive")
	case p.MaxFailures < 1 || p.MaxFailures > 100:
		return bad("MaxFailures %d not in 1–100", p.MaxFailures)
	case p.FailureCeiling < p.MaxFailures || p.FailureCeiling > 100:
		return bad("FailureCeiling %d not in MaxFailures–100", p.FailureCeiling)
	case p.FailureWindow < time.Second:
		return bad("FailureWindow must be at least 1s")
	case p.KeySends < 1 || p.KeyWindow < time.Second:
		return bad("KeySends and KeyWindow must be positive")
	case p.GlobalSends < 0 || p.GlobalWindow < time.Second:
		return bad("GlobalSends must not be negative and GlobalWindow at least 1s")
	}
	if err := p.Pumping.validate(); err != nil {
		return bad("%v", err)
	}
	for _, c := range p.Channels {
		if !c.Valid() {
			return bad("unknown channel %q", c)
		}
	}
	for _, t := range p.AllowNumberTypes {
		if !t.known() {
			return bad("unknown number type %q", t)
		}
	}
	if err := p.validateFallback(); err != nil {
		return bad("%v", err)
	}
	supported := phonenumbers.GetSupportedRegions()
	for _, r := range p.AllowedRegions {
		if !supported[strings.ToUpper(r)] {
			return bad("unknown region %q", r)
		}
	}
	return nil
}

// GuessOdds is the chance that an attacker who cannot read the messages
// guesses a valid code: perCode = MaxAttempts / 10^CodeLength for one
// code, and perWindow = FailureCeiling / 10^CodeLength for one
// destination within any FailureWindow, whatever the number of clients and
// sessions: no more than FailureCeiling failed checks are compared in it.
func (p Policy) GuessOdds() (perCode, perWindow float64) {
	p = p.withDefaults()
	space := math.Pow10(p.CodeLength)
	return float64(p.MaxAttempts) / space, float64(p.FailureCeiling) / space
}

func (p Policy) allowsChannel(c sender.Channel) bool {
	for _, a := range p.Channels {
		if a == c {
			return true
		}
	}
	return false
}

func (p Policy) allowsRegion(r string) bool {
	if len(p.AllowedRegions) == 0 {
		return true
	}
	for _, a := range p.AllowedRegions {
		if strings.EqualFold(a, r) {
			return true
		}
	}
	return false
}

// allowsType reports whether codes may go to a number of type t.
func (p Policy) allowsType(t NumberType) bool {
	if !slices.Contains(costlyTypes, t) {
		return true
	}
	return slices.Contains(p.AllowNumberTypes, t)
}
