// Command plivo-phlo sends one real verification code through a Plivo PHLO
// built from Plivo's Two-Factor Authentication template, then checks the
// code you type back.
//
//	export PLIVO_AUTH_ID=MA... PLIVO_AUTH_TOKEN=... PLIVO_NUMBER=+14155550000 PHLO_ID=...
//	go run ./examples/plivo-phlo +14155550100          # by SMS
//	go run ./examples/plivo-phlo -channel call +14155550100
//
// The PHLO receives {from, to, otp, mode} and sends the SMS or places the call;
// go2fa keeps the code (as an HMAC, in memory here) and checks it.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"

	"github.com/go2fa/go2fa/examples/internal/prompt"
	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store/memstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// After the first Ctrl-C, which run answers by returning, a second one
	// gets the default behaviour (exit) instead of being swallowed.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, os.Args[1:], os.Getenv, nil, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "plivo-phlo:", err)
		os.Exit(1)
	}
}

// run sends a code to the number in args through the PHLO named by the
// PLIVO_* and PHLO_ID settings read with getenv, then reads codes from stdin
// until one is approved. client, if not nil, carries the requests to Plivo
// (tests pass plivotest's client). When ctx is done (Ctrl-C) it stops
// waiting at the prompt and returns an error that wraps ctx.Err().
func run(ctx context.Context, args []string, getenv func(string) string, client *http.Client, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plivo-phlo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	channel := fs.String("channel", "sms", `"sms" or "call"`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: plivo-phlo [-channel sms|call] +14155550100")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("give one phone number")
	}
	ch, err := sender.ParseChannel(*channel)
	if err != nil {
		return err
	}

	cfg, err := plivoadapter.ConfigFromEnv(getenv)
	if err != nil {
		return fmt.Errorf("%w (see the number and the PHLO in the Plivo console)", err)
	}
	cfg.HTTPClient = client
	phlo, err := plivoadapter.NewPHLO(cfg) // refuses an empty PHLO_ID
	if err != nil {
		return err
	}
	if err := phlo.Ping(ctx); err != nil {
		return fmt.Errorf("checking PHLO_ID: %w", err)
	}

	secret := make([]byte, 32)
	rand.Read(secret)
	st := memstore.New()
	defer st.Close()
	v, err := otp.NewVerifier(otp.Config{Store: st, Sender: phlo, Secret: secret})
	if err != nil {
		return err
	}
	res, err := v.Start(ctx, fs.Arg(0), ch)
	if err != nil {
		return err
	}
	how := "an SMS"
	if ch == sender.Call {
		how = "a call"
	}
	fmt.Fprintf(stdout, "The PHLO is sending %s to %s.\n", how, res.To)

	return prompt.Code(ctx, v, res.To, stdin, stdout)
}
