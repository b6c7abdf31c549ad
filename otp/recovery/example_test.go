package recovery_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/go2fa/go2fa/otp/recovery"
	"github.com/go2fa/go2fa/store/memstore"
)

func Example() {
	ctx := context.Background()
	s := memstore.New()
	defer s.Close()
	m, err := recovery.New(recovery.Config{
		Store:  s,
		Secret: []byte("an example secret of 32 bytes!!!"), // from a vault in production
		Count:  3,
		// A seeded source only to make this example's output stable;
		// leave Rand nil (crypto/rand) in production.
		Rand: rand.NewChaCha8([32]byte{}),
	})
	if err != nil {
		panic(err)
	}

	// After enrollment: show these once, then forget them.
	codes, err := m.Generate(ctx, "user-42")
	if err != nil {
		panic(err)
	}
	fmt.Println(codes)

	// The phone is lost: the user types a code, in any case.
	res, err := m.Redeem(ctx, "user-42", "C7FV7 6TDMA")
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.Left)

	// A code works once.
	res, err = m.Redeem(ctx, "user-42", codes[0])
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.Remaining)

	n, err := m.Count(ctx, "user-42")
	if err != nil {
		panic(err)
	}
	fmt.Println(n, "codes left")
	// Output:
	// [c7fv7-6tdma 0tdx0-sxhh7 vb3fx-hz8vw]
	// approved 2
	// rejected 4
	// 2 codes left
}
