package redisstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/redisstore"
)

func Example() {
	srv := miniredis.NewMiniRedis() // a real deployment: redis.NewUniversalClient(...)
	if err := srv.Start(); err != nil {
		panic(err)
	}
	defer srv.Close()
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{srv.Addr()}})
	defer rdb.Close()

	st, err := redisstore.New(rdb, redisstore.WithPrefix("myapp-2fa"))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	// The otp package derives Key and Digest with an HMAC; the store never
	// sees a phone number or a code.
	iss, err := st.Issue(ctx, store.IssueRequest{Key: "opaque-key", Digest: []byte("digest"),
		TTL: 5 * time.Minute, Cooldown: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	fmt.Println(iss.Outcome)
	again, _ := st.Issue(ctx, store.IssueRequest{Key: "opaque-key", Digest: []byte("other"),
		TTL: 5 * time.Minute, Cooldown: 30 * time.Second})
	fmt.Println(again.Outcome, again.Reason)
	for _, d := range []string{"wrong", "digest", "digest"} {
		res, err := st.Check(ctx, store.CheckRequest{Key: "opaque-key", Digest: []byte(d), MaxAttempts: 5})
		if err != nil {
			panic(err)
		}
		fmt.Println(res.Status, res.Remaining)
	}
	// Output:
	// issued
	// limited cooldown
	// rejected 4
	// approved 0
	// expired 0
}
