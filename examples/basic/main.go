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
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/go2fa/go2fa/examples/internal/prompt"
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

var errUsage = errors.New("usage: basic +14155550100")

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
	fmt.Fprintf(stdout, "Sent a code to %s. It expires in %s.\n", res.To, res.ExpiresIn)

	return prompt.Code(ctx, v, res.To, stdin, stdout)
}
