// Command basic is the smallest go2fa program: it sends a code to the number
// given on the command line and checks the code typed back.
//
//	go run ./examples/basic +14155550100
//
// It keeps codes in memory and uses the development sender, which prints the
// message (with its code) to standard error instead of sending it. Type the
// code at the prompt; a wrong code asks again, until the code is approved,
// locked (too many wrong codes) or expired. Ctrl-C stops the wait.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store/memstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// After the first Ctrl-C, which run answers by returning, a second one
	// gets the default behaviour (exit) instead of being swallowed.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "basic:", err)
		os.Exit(1)
	}
}

var (
	errUsage   = errors.New("usage: basic +14155550100")
	errLocked  = errors.New("too many wrong codes: the code is locked")
	errExpired = errors.New("the code has expired")
	errNoInput = errors.New("no code entered")
)

// run sends a code to args[0], then reads codes from stdin until one is
// approved (nil), or the code is locked or expired (an error). When ctx is
// done (Ctrl-C) it stops waiting at the prompt and returns an error that
// wraps ctx.Err().
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		return errUsage
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	st := memstore.New()
	defer st.Close()
	v, err := otp.NewVerifier(otp.Config{
		Store:  st,
		Sender: sender.Writer(stderr), // prints "go2fa[dev] sms to +1...: Your verification code is ..."
		Secret: secret,
	})
	if err != nil {
		return err
	}

	res, err := v.Start(ctx, args[0], sender.SMS)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Sent a code to %s. It expires at %s.\n", res.To, res.ExpiresAt.Format(time.Kitchen))

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
