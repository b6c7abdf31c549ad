// Package prompt is the code prompt the command-line examples share: it
// reads codes typed on stdin and checks them until one is approved, the
// guesses run out, the code expires, the input ends or ctx is cancelled
// (Ctrl-C).
package prompt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go2fa/go2fa/otp"
)

// Ways the prompt ends without an approval.
var (
	ErrLocked  = errors.New("too many wrong codes: the code is locked")
	ErrExpired = errors.New("the code has expired")
	ErrNoInput = errors.New("no code entered")
)

// Code prompts on stdout for the code sent to the E.164 number to and checks
// each line read from stdin with v, until the code is approved (nil), the
// guesses run out (ErrLocked), nothing is pending (ErrExpired), stdin ends
// (ErrNoInput) or ctx is done (an error wrapping ctx.Err()).
func Code(ctx context.Context, v *otp.Verifier, to string, stdin io.Reader, stdout io.Writer) error {
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
			return ErrNoInput
		} else if l.err != nil {
			return l.err
		}
		chk, err := v.Check(ctx, to, strings.TrimSpace(l.text))
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
			return ErrLocked
		default:
			return ErrExpired
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
