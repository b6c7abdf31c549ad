package e2e_test

import (
	"testing"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/otp/totp"
	"github.com/go2fa/go2fa/store"
)

// The three status types name the same outcome with the same word:
// otp.Status and totp.Status are strings, and each is the String of the
// store.CheckStatus it is mapped from.
func TestStatusNamesAgree(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		store store.CheckStatus
		otp   otp.Status
		totp  totp.Status
	}{
		{store.Approved, otp.Approved, totp.Approved},
		{store.Rejected, otp.Rejected, totp.Rejected},
		{store.Locked, otp.Locked, totp.Locked},
		{store.Expired, otp.Expired, ""},
		{store.Replayed, "", totp.Replayed},
	} {
		name := tc.store.String()
		if tc.otp != "" && string(tc.otp) != name {
			t.Errorf("otp status for store.%s = %q, want %q", name, tc.otp, name)
		}
		if tc.totp != "" && string(tc.totp) != name {
			t.Errorf("totp status for store.%s = %q, want %q", name, tc.totp, name)
		}
	}
}
