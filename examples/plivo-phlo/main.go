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
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"

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

var (
	errLocked  = errors.New("too many wrong codes: the code is locked")
	errExpired = errors.New("the code has expired")
	errNoInput = errors.New("no code entered")
)

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

	cfg := plivoadapter.Config{HTTPClient: client}
	var missing []string
	for _, v := range []struct {
		name string
		dst  *string
	}{
		{plivoadapter.EnvAuthID, &cfg.AuthID},
		{plivoadapter.EnvAuthToken, &cfg.AuthToken},
		{plivoadapter.EnvNumber, &cfg.Number},
		{plivoadapter.EnvPHLOID, &cfg.PHLOID},
	} {
		*v.dst = strings.TrimSpace(getenv(v.name))
		if *v.dst == "" {
			missing = append(missing, v.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing settings: %s (see the PHLO and number in the Plivo console)", strings.Join(missing, ", "))
	}
	phlo, err := plivoadapter.NewPHLO(cfg)
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

	rctx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	lines := readLines(rctx, stdin)
	for {
		fmt.Fprint(stdout, "Code: ")
		var l line
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout)
			return fmt.Errorf("stopped waiting for the code: %w", ctx.Err())
		case l = <-lines:
		}
		if errors.Is(l.err, io.EOF) {
			return errNoInput
		} else if l.err != nil {
			return l.err
		}
		chk, err := v.Check(ctx, res.To, strings.TrimSpace(l.text))
		switch {
		case errors.Is(err, otp.ErrInvalidCode):
			fmt.Fprintf(stdout, "A code is %d digits. Try again.\n", v.Policy().CodeLength)
			continue
		case err != nil:
			return err
		}
		switch chk.Status {
		case otp.Approved:
			fmt.Fprintln(stdout, "Approved: the number is verified.")
			return nil
		case otp.Rejected:
			fmt.Fprintf(stdout, "Wrong code. %d attempts left.\n", chk.Remaining)
		case otp.Locked:
			return errLocked
		default:
			return errExpired
		}
	}
}

// line is one line of input, or the end of it: err is io.EOF at the end of
// the input and the read error if reading failed.
type line struct {
	text string
	err  error
}

// readLines scans r in its own goroutine and sends each line on the returned
// channel, then a final line that carries the error that ended the input. A
// bufio.Scanner blocked in Read never looks at a context, so the prompt
// selects on this channel and on ctx.Done() instead. The goroutine stops
// sending once ctx is done; if it is blocked in Read it stays there until r
// returns (the process exits, or the caller closes r).
func readLines(ctx context.Context, r io.Reader) <-chan line {
	ch := make(chan line)
	go func() {
		in := bufio.NewScanner(r)
		for in.Scan() {
			select {
			case ch <- line{text: in.Text()}:
			case <-ctx.Done():
				return
			}
		}
		err := in.Err()
		if err == nil {
			err = io.EOF
		}
		select {
		case ch <- line{err: err}:
		case <-ctx.Done():
		}
	}()
	return ch
}
