package otp

import (
	"errors"
	"fmt"
	"time"

	"github.com/go2fa/go2fa/store"
)

// Sentinel errors. Match them with errors.Is; the returned errors wrap them
// with detail (never a code, a secret or a full phone number).
var (
	// ErrInvalidConfig reports a Config or Policy that NewVerifier refuses.
	ErrInvalidConfig = errors.New("otp: invalid config")
	// ErrInvalidNumber reports a destination that is not a valid phone number.
	ErrInvalidNumber = errors.New("otp: invalid phone number")
	// ErrCountryNotAllowed reports a number outside Policy.AllowedRegions.
	ErrCountryNotAllowed = errors.New("otp: country not allowed")
	// ErrInvalidChannel reports a channel other than sender.SMS, sender.Call
	// or sender.WhatsApp.
	ErrInvalidChannel = errors.New("otp: invalid channel")
	// ErrChannelNotAllowed reports a valid channel that Policy.Channels excludes.
	ErrChannelNotAllowed = errors.New("otp: channel not allowed")
	// ErrInvalidCode reports a code that is not Policy.CodeLength digits. It
	// is returned before any store access.
	ErrInvalidCode = errors.New("otp: invalid code format")
	// ErrInvalidOption reports a bad per-call option (an over-long binding
	// or limit key, an unknown locale form).
	ErrInvalidOption = errors.New("otp: invalid option")
	// ErrRateLimited reports a send refused by a limit; the error is a
	// *RateLimitError carrying RetryAfter.
	ErrRateLimited = errors.New("otp: rate limited")
	// ErrVetoed reports a send refused by Config.BeforeSend.
	ErrVetoed = errors.New("otp: send vetoed")
	// ErrSendFailed reports a Sender failure; a new code was withdrawn (a
	// kept code re-sent with Policy.KeepCode stays valid).
	ErrSendFailed = errors.New("otp: send failed")
	// ErrStoreUnavailable reports a Store failure (backend down, timeout,
	// cancelled context). Nothing was approved.
	ErrStoreUnavailable = errors.New("otp: store unavailable")
)

// LimitReason says which limit refused a send.
type LimitReason string

// The limits that can refuse a send.
const (
	LimitCooldown LimitReason = "cooldown"    // too soon after the previous send
	LimitWindow   LimitReason = "destination" // the destination's budget per window
	LimitFailures LimitReason = "failures"    // too many failed checks for the destination
	LimitKey      LimitReason = "key"         // the per-call limit key's budget (client IP, account)
	LimitGlobal   LimitReason = "global"      // the global budget
)

// RateLimitError is returned by Start when a limit refuses the send.
// errors.Is(err, ErrRateLimited) is true for it.
type RateLimitError struct {
	// Reason names the limit.
	Reason LimitReason
	// RetryAfter is how long until that limit lets a send through.
	RetryAfter time.Duration
}

// Error implements error.
func (e *RateLimitError) Error() string {
	return fmt.Sprintf("otp: rate limited (%s), retry after %s", e.Reason, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

func reasonOf(r store.IssueResult, extra []LimitReason) LimitReason {
	switch r.Reason {
	case store.LimitCooldown:
		return LimitCooldown
	case store.LimitWindow:
		return LimitWindow
	case store.LimitFailures:
		return LimitFailures
	case store.LimitExtra:
		if r.LimitIndex >= 0 && r.LimitIndex < len(extra) {
			return extra[r.LimitIndex]
		}
	}
	return LimitReason("unknown")
}
