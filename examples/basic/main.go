// Command basic is the smallest go2fa program: it sends a code to the number
// given on the command line and checks the code typed back.
//
//	go run ./examples/basic +14155550100
//
// It keeps codes in memory and uses the development sender, which prints the
// message (with its code) to standard error instead of sending it. Type the
// code at the prompt; a wrong code asks again, until the code is approved,
// locked (too many wrong codes) or expired.
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
// approved (nil), or the code is locked or expired (an error).
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

	in := bufio.NewScanner(stdin)
	for {
		fmt.Fprint(stdout, "Code: ")
		if !in.Scan() {
			if err := in.Err(); err != nil {
				return err
			}
			return errNoInput
		}
		chk, err := v.Check(ctx, res.To, strings.TrimSpace(in.Text()))
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
