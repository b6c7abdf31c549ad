package plivoredis_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivoredis"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/redis/go-redis/v9"
)

// Every instance behind the callback URLs builds its senders on the same
// Redis, prefix and secret, so a delivery report or an answer request
// can reach any of them.
func Example() {
	mr, err := miniredis.Run() // a real deployment dials its own Redis
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	c := plivoredis.Config{
		Client: rdb,
		Secret: []byte("at least 32 random bytes, kept out of Redis"),
	}
	messages, err := plivoredis.NewMessages(c)
	if err != nil {
		log.Fatal(err)
	}
	nonces, err := plivoredis.NewNonces(c)
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := plivoredis.NewTokens(c)
	if err != nil {
		log.Fatal(err)
	}
	pc := plivoadapter.Config{AuthID: plivotest.AuthID, AuthToken: plivotest.AuthToken, Number: plivotest.Number} // or plivoadapter.ConfigFromEnv(os.Getenv)
	sms, err := plivoadapter.NewSMS(pc, plivoadapter.WithStatusURL("https://example.com/plivo/status"), plivoadapter.WithMessages(messages), plivoadapter.WithNonces(nonces))
	if err != nil {
		log.Fatal(err)
	}
	voice, err := plivoadapter.NewVoice(pc, "https://example.com/plivo/answer", plivoadapter.WithTokens(tokens), plivoadapter.WithNonces(nonces))
	if err != nil {
		log.Fatal(err)
	}
	_, _ = sms.StatusHandler(), voice.AnswerHandler() // mount these; send with sms and voice

	// A call's prompt is taken once, whichever instance asks.
	ctx := context.Background()
	_ = tokens.Put(ctx, "token", plivoadapter.Prompt{Code: "493817", Language: "en-US"}, time.Now().Add(time.Minute))
	for range 2 {
		p, found, err := tokens.Take(ctx, "token")
		fmt.Println(found, p.Language, err)
	}
	// Output:
	// true en-US <nil>
	// false  <nil>
}
