//go:build race

package e2e_test

// raceEnabled is true under the race detector, which slows miniredis's Lua
// interpreter tenfold.
const raceEnabled = true
