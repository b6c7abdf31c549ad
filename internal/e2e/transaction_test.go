package e2e_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/sender/sendertest"
	"github.com/go2fa/go2fa/store/redisstore"
)

// Nothing of a transaction reaches the store, the events, the errors or
// the logs of a Message: the store requests, a Redis dump and the log
// output are searched for the amount, the payee and the code.
func TestTransactionNotStoredOrLogged(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	rs, err := redisstore.New(rdb)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	rec := &sendertest.Recorder{}
	v, err := otp.NewVerifier(otp.Config{
		Store: rs, Sender: rec, Secret: testSecret,
		Observer: otp.SlogObserver(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := otp.Transaction{Amount: "4321.98", Currency: "EUR", Payee: "Zebulon Quartermaine"}
	res, err := v.Start(t.Context(), alice, sender.SMS, otp.WithTransaction(tr))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := rec.Last(res.To)
	if !strings.Contains(m.Text, "EUR 4321.98 to Zebulon Quartermaine") {
		t.Fatalf("text %q lacks the transaction: the test would prove nothing", m.Text)
	}
	wrongTr := tr
	wrongTr.Amount = "4321.99"
	if _, err := v.Check(t.Context(), alice, m.Code, otp.WithTransaction(wrongTr)); err != nil {
		t.Fatal(err)
	}
	slog.New(slog.NewTextHandler(&logs, nil)).Info("sent", "m", m)
	fmt.Fprintf(&logs, "%v %+v %#v %s\n", m, m, m, m)
	dump := redisDump(mr)
	if dump.Len() == 0 || logs.Len() == 0 {
		t.Fatal("nothing dumped or logged: the test would prove nothing")
	}
	for _, s := range []string{"4321", "Zebulon", "Quartermaine", m.Code} {
		if bytes.Contains(dump.Bytes(), []byte(s)) {
			t.Errorf("the Redis dump contains %q", s)
		}
		if strings.Contains(logs.String(), s) {
			t.Errorf("the logs contain %q", s)
		}
	}
}

// redisDump returns every key of mr with its string value or hash fields.
func redisDump(mr *miniredis.Miniredis) *bytes.Buffer {
	var dump bytes.Buffer
	for _, k := range mr.Keys() {
		dump.WriteString(k + "\n")
		if v, err := mr.Get(k); err == nil {
			dump.WriteString(v + "\n")
		}
		if fs, err := mr.HKeys(k); err == nil {
			for _, f := range fs {
				dump.WriteString(f + "=" + mr.HGet(k, f) + "\n")
			}
		}
	}
	return &dump
}
