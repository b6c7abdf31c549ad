//go:build race

package otp_test

// raceEnabled is true under the race detector, which slows miniredis's Lua
// interpreter tenfold.
const raceEnabled = true
