package plivoadapter_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivotest"
	"github.com/go2fa/go2fa/sender"
)

// Every SMS goes with log=false unless the option turns Plivo's logs back
// on; the fake records what Plivo received.
func TestSMSLogFalseByDefault(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		keep bool
		want any
	}{{false, false}, {true, nil}} {
		srv := fake(t)
		var opts []plivoadapter.Option
		if tt.keep {
			opts = append(opts, plivoadapter.WithKeepInPlivoLogs())
		}
		s := newSMS(t, srv, opts...)
		if err := s.Send(context.Background(), smsMsg()); err != nil {
			t.Fatal(err)
		}
		m, _ := srv.LastMessage(dest)
		if m.Log != tt.want {
			t.Errorf("WithKeepInPlivoLogs %v: log = %#v, want %#v", tt.keep, m.Log, tt.want)
		}
		if _, present := jsonBody(t, srv.Requests()[0].Body)["log"]; present != (tt.want != nil) {
			t.Errorf("WithKeepInPlivoLogs %v: log in body = %v", tt.keep, present)
		}
	}
}

// message_expiry follows the code's lifetime, within Plivo's 5 to 10799
// seconds, so a queued SMS is dropped once its code is dead.
func TestSMSMessageExpiry(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	s := newSMS(t, srv)
	for _, tt := range []struct {
		ttl  time.Duration
		want int
	}{
		{0, 0}, {time.Second, 5}, {4500 * time.Millisecond, 5}, {5 * time.Second, 5},
		{90*time.Second + time.Millisecond, 91}, {5 * time.Minute, 300}, {3 * time.Hour, 10799}, {24 * time.Hour, 10799},
	} {
		m := smsMsg()
		m.TTL = tt.ttl
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatalf("TTL %v: %v", tt.ttl, err)
		}
		got, _ := srv.LastMessage(dest)
		if got.Expiry != tt.want {
			t.Errorf("TTL %v: message_expiry = %d, want %d", tt.ttl, got.Expiry, tt.want)
		}
	}
}

// A Powerpack sends powerpack_uuid instead of src (Plivo takes one or the
// other), and then needs no PLIVO_NUMBER.
func TestSMSPowerpack(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	const pp = "d35f2e82-d387-427f-8594-6fa07613c43a"
	for _, number := range []string{plivotest.Number, ""} {
		c := config(srv)
		c.Number = number
		s, err := plivoadapter.NewSMS(c, plivoadapter.WithPowerpack(pp))
		if err != nil {
			t.Fatalf("number %q: %v", number, err)
		}
		if err := s.Send(context.Background(), smsMsg()); err != nil {
			t.Fatal(err)
		}
		m, _ := srv.LastMessage(dest)
		if m.PowerpackUUID != pp || m.Src != "" {
			t.Errorf("number %q: powerpack_uuid %q, src %q; want %q and none", number, m.PowerpackUUID, m.Src, pp)
		}
	}
	c := config(srv)
	c.Number = ""
	if _, err := plivoadapter.NewSMS(c); !errors.Is(err, plivoadapter.ErrInvalidConfig) {
		t.Errorf("no number, no powerpack: err = %v, want ErrInvalidConfig", err)
	}
	if _, err := plivoadapter.NewSMS(config(srv), plivoadapter.WithPowerpack("not a uuid!")); !errors.Is(err, plivoadapter.ErrInvalidConfig) {
		t.Errorf("bad powerpack: err = %v, want ErrInvalidConfig", err)
	}
}

// India's DLT parameters go with messages to +91 numbers only.
func TestSMSDLT(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	dlt := plivoadapter.DLT{EntityID: "1201159141994639834", TemplateID: "1207160760347486327", TemplateCategory: "service_implicit"}
	s := newSMS(t, srv, plivoadapter.WithDLT(dlt))
	for _, to := range []string{"+919812345678", dest} {
		m := smsMsg()
		m.To = to
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		got, _ := srv.LastMessage(to)
		india := to[:3] == "+91"
		if sent := got.DLTEntityID == dlt.EntityID && got.DLTTemplateID == dlt.TemplateID && got.DLTTemplateCategory == dlt.TemplateCategory; sent != india {
			t.Errorf("to %s: DLT = %q %q %q, want sent=%v", to[:3], got.DLTEntityID, got.DLTTemplateID, got.DLTTemplateCategory, india)
		}
		if !india && (got.DLTEntityID != "" || got.DLTTemplateID != "" || got.DLTTemplateCategory != "") {
			t.Errorf("to %s: DLT sent", to[:3])
		}
	}
	if _, err := plivoadapter.NewSMS(config(srv), plivoadapter.WithDLT(plivoadapter.DLT{EntityID: "has space"})); !errors.Is(err, plivoadapter.ErrInvalidConfig) {
		t.Errorf("bad DLT: err = %v, want ErrInvalidConfig", err)
	}
}

// Calls hang up on answering machines by default (the code is not left on
// voicemail), last at most TimeLimit, and carry an optional caller name.
func TestVoiceCallParams(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		o       []plivoadapter.Option
		machine string
		limit   int64
		caller  string
	}{
		{"defaults", nil, "hangup", 120, ""},
		{"detect only", []plivoadapter.Option{plivoadapter.WithMachineDetection(plivoadapter.MachineDetect), plivoadapter.WithTimeLimit(45 * time.Second)}, "true", 45, ""},
		{"off", []plivoadapter.Option{plivoadapter.WithMachineDetection(plivoadapter.MachineOff), plivoadapter.WithTimeLimit(1500 * time.Millisecond), plivoadapter.WithCallerName("Acme Bank")}, "", 2, "Acme Bank"},
	} {
		srv := fake(t)
		v := newVoice(t, srv, tt.o...)
		c := placeCall(t, srv, v)
		if c.MachineDetection != tt.machine || c.TimeLimit != tt.limit || c.CallerName != tt.caller {
			t.Errorf("%s: machine_detection %q, time_limit %d, caller_name %q; want %q, %d, %q", tt.name, c.MachineDetection, c.TimeLimit, c.CallerName, tt.machine, tt.limit, tt.caller)
		}
	}
	srv := fake(t)
	for _, tc := range []struct {
		o      plivoadapter.Option
		option string
	}{
		{plivoadapter.WithMachineDetection("maybe"), "WithMachineDetection"},
		{plivoadapter.WithCallerName("a name that is much too long to be shown on any phone at all"), "WithCallerName"},
		{plivoadapter.WithCallerName("line\nbreak"), "WithCallerName"},
		{plivoadapter.WithTimeLimit(0), "WithTimeLimit"},
	} {
		if _, err := plivoadapter.NewVoice(config(srv), answerURL, tc.o); !errors.Is(err, plivoadapter.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.option) {
			t.Errorf("NewVoice with a bad %s: err = %v, want ErrInvalidConfig naming it", tc.option, err)
		}
	}
}

// Plivo documents the PHLO run reply as 201 {"api_id", "phlo_id",
// "message"}: a run that started, whose reference is the api_id. plivo-go's
// fixture adds phlo_run_id, used when present. A 2xx that names neither the
// PHLO nor a run is transient.
func TestPHLODocumentedReply(t *testing.T) {
	t.Parallel()
	srv := fake(t)
	p, err := plivoadapter.NewPHLO(config(srv))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := p.Run(context.Background(), smsMsg())
	if err != nil {
		t.Fatalf("documented reply: %v", err)
	}
	run, _ := srv.LastPHLORun(dest)
	if ref != run.RunID || ref == "" {
		t.Errorf("ref = %q, want the reply's api_id %q", ref, run.RunID)
	}
	srv.PHLORunIDs(true)
	if ref, err := p.Run(context.Background(), smsMsg()); err != nil || ref == "" {
		t.Errorf("reply with phlo_run_id: ref %q, err %v", ref, err)
	}
	srv.Fail(plivotest.EmptyJSON)
	_, err = p.Run(context.Background(), smsMsg())
	if !errors.Is(err, plivoadapter.ErrTransient) {
		t.Errorf("reply {}: err = %v, want transient", err)
	}
}

// The PHLO reply shapes, served by hand: each accepted shape and each
// refused one.
func TestPHLOReplyShapes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		body, ref string
		ok        bool
	}{
		{`{"phlo_id":"` + plivotest.PHLOID + `","api_id":"7b6f8256-07c7-4d9a-bf2a-a2cd0f05d269","message":"executed"}`, "7b6f8256-07c7-4d9a-bf2a-a2cd0f05d269", true},
		{`{"api_id":"52d7d3d4-9a47-44c9-8c08-436aac427220","phlo_run_id":"2e802f94-cc03-4e35-b4c8-5a0328544135","phlo_id":"x","message":"stopped"}`, "2e802f94-cc03-4e35-b4c8-5a0328544135", true},
		{`{"phlo_id":"` + plivotest.PHLOID + `"}`, "", true},
		{`{"phlo_id":"another-phlo"}`, "", false},
		{`{"message":"ok"}`, "", false},
		{`{}`, "", false},
	} {
		ts := newReplyServer(t, http.StatusCreated, tt.body)
		c := config(fake(t))
		c.APIURL, c.HTTPClient = ts, nil
		p, err := plivoadapter.NewPHLO(c)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := p.Run(context.Background(), sender.Message{To: dest, Channel: sender.Call, Code: code})
		if (err == nil) != tt.ok || ref != tt.ref {
			t.Errorf("reply %s: ref %q, err %v; want ref %q, ok %v", tt.body, ref, err, tt.ref, tt.ok)
		}
		if err != nil && !errors.Is(err, plivoadapter.ErrTransient) {
			t.Errorf("reply %s: err %v, want transient", tt.body, err)
		}
	}
}
