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
	// ErrNumberTypeNotAllowed reports a costly number type (premium rate,
	// shared cost, UAN, personal, pager) that Policy.AllowNumberTypes does
	// not name; the error is a *NumberTypeError.
	ErrNumberTypeNotAllowed = errors.New("otp: number type not allowed")
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
	// ErrStoreUnavailable reports a Store failure (backend down, an answer
	// later than the caller's deadline). Nothing was approved.
	//
	// A call whose context was cancelled fails with an error that wraps
	// context.Canceled and not ErrStoreUnavailable, so a client that went
	// away does not read as an outage. A call whose deadline passed wraps
	// both context.DeadlineExceeded and ErrStoreUnavailable. Test the
	// context errors first:
	//
	//	switch {
	//	case errors.Is(err, context.Canceled): // the caller is gone
	//	case errors.Is(err, context.DeadlineExceeded): // too slow for the caller
	//	case errors.Is(err, otp.ErrStoreUnavailable): // the store failed
	//	}
	ErrStoreUnavailable = errors.New("otp: store unavailable")
)

// LimitReason says which limit refused a send.
type LimitReason string

// The limits that can refuse a send.
const (
	LimitCooldown LimitReason = "cooldown" // too soon after the previous send
	LimitWindow   LimitReason = "window"   // the destination's budget per window
	LimitFailures LimitReason = "failures" // too many failed checks for the destination
	LimitKey      LimitReason = "key"      // the per-call limit key's budget (client IP, account)
	LimitGlobal   LimitReason = "global"   // the global budget
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

// NumberTypeError is returned by Start for a number whose type the policy
// refuses. errors.Is(err, ErrNumberTypeNotAllowed) is true for it.
type NumberTypeError struct {
	// Type is the refused number type.
	Type NumberType
}

// Error implements error.
func (e *NumberTypeError) Error() string {
	return fmt.Sprintf("otp: number type not allowed (%s)", e.Type)
}

// Is makes errors.Is(err, ErrNumberTypeNotAllowed) true.
func (e *NumberTypeError) Is(target error) bool { return target == ErrNumberTypeNotAllowed }
