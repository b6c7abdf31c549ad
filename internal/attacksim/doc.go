// Package attacksim holds an attack simulation of go2fa's limits, run as a
// test on every store: an attacker who knows only a victim's phone number,
// with 50 client addresses and any number of sessions, against a victim
// who uses its own session and address. It reports how long the victim
// could be kept from receiving a code and being approved, and the most
// guesses the attacker had compared against codes in any window, next to
// what otp.Policy.GuessOdds states.
package attacksim
