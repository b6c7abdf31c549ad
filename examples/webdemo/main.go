// Command webdemo is Plivo's Flask two-factor demo rebuilt on go2fa: a page
// that sends a code by SMS (with "Call me" as the voice fallback), checks it,
// and an "Authenticator app" tab for TOTP.
//
//	go run ./examples/webdemo            # http://127.0.0.1:8080, no settings needed
//	go run ./examples/webdemo -addr 127.0.0.1:9000
//
// With no settings it keeps codes in memory and prints every message (with
// its code) to standard error instead of sending it. Settings, all from the
// environment:
//
//	ADDR                 listen address (default 127.0.0.1:8080; -addr wins)
//	GO2FA_SECRET         HMAC secret, hex or base64, at least 32 bytes
//	                     (default: a random one per run, with a warning)
//	REDIS_URL            keep codes in Redis, e.g. redis://127.0.0.1:6379/0,
//	                     and the Plivo callbacks' state too (sent messages,
//	                     accepted nonces, call prompts), so that several
//	                     instances with one GO2FA_SECRET share them
//	DATABASE_URL         or keep codes in PostgreSQL (schema go2fa, created
//	                     at start), e.g. postgres://user@127.0.0.1:5432/app
//	REDIS_AUTOPIPELINE   0 sends each check in its own round trip instead of
//	                     batching concurrent checks (go-redis autopipelining)
//	PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN, PLIVO_NUMBER
//	                     send real SMS and calls through Plivo
//	PHLO_ID              send through this PHLO (Plivo's 2FA template)
//	                     instead of direct SMS and calls
//	PLIVO_API_URL        send every Plivo request (REST API and PHLO runner)
//	                     to this origin instead, e.g. http://127.0.0.1:8089
//	                     for a local stand-in, a proxy or a regional endpoint
//	PLIVO_MAIN_AUTH_TOKEN
//	                     the main account's Auth Token when PLIVO_AUTH_* are
//	                     a subaccount's (delivery reports' Ma signatures)
//	PLIVO_WHATSAPP_NUMBER, PLIVO_WHATSAPP_TEMPLATE
//	                     offer "Send on WhatsApp" (direct sending only):
//	                     the WhatsApp Business number and the name of an
//	                     approved authentication template
//	PLIVO_WHATSAPP_LANGUAGES
//	                     the template's approved languages, comma-separated
//	                     (default en_US)
//	PUBLIC_URL           this server's public base URL, which Plivo calls
//	                     back: needed for direct voice calls (answer URL
//	                     PUBLIC_URL/plivo/answer) and enables SMS delivery
//	                     callbacks (PUBLIC_URL/plivo/status); an https URL
//	                     also marks the session cookie Secure, for a
//	                     TLS-terminating proxy in front of plain HTTP;
//	                     with both callbacks, an undelivered SMS makes the
//	                     demo call the user with the same code
//	TRUST_PROXY_HEADER   header that carries the client IP behind your own
//	                     proxy, e.g. X-Forwarded-For (default: none)
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/plivoadapter"
	"github.com/go2fa/go2fa/plivoadapter/plivoredis"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/memstore"
	"github.com/go2fa/go2fa/store/pgstore"
	"github.com/go2fa/go2fa/store/redisstore"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "webdemo:", err)
		os.Exit(1)
	}
}

// run serves the demo until ctx is done. ready, if not nil, receives the
// listener's address once the server accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("webdemo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defAddr := getenv("ADDR")
	if defAddr == "" {
		defAddr = "127.0.0.1:8080"
	}
	addr := fs.String("addr", defAddr, "listen address host:port (also $ADDR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	cfg, cleanup, err := configFromEnv(ctx, getenv, stderr, log, nil)
	if err != nil {
		return err
	}
	defer cleanup()
	app, err := newApp(cfg)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           app,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stderr, "webdemo: serving on http://%s\n", ln.Addr())
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "webdemo: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// configFromEnv picks the secret, the store and the sender from the
// environment. plivoHTTP, if not nil, carries the requests to Plivo (tests
// pass plivotest's client). cleanup releases what it opened.
func configFromEnv(ctx context.Context, getenv func(string) string, stderr io.Writer, log *slog.Logger, plivoHTTP *http.Client) (cfg appConfig, cleanup func(), err error) {
	var closers []func()
	cleanup = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	cfg.Logger = log
	cfg.TrustedHeader = strings.TrimSpace(getenv("TRUST_PROXY_HEADER"))
	cfg.AdminToken = strings.TrimSpace(getenv("GO2FA_ADMIN_TOKEN"))
	public, err := publicURL(getenv)
	if err != nil {
		return cfg, cleanup, err
	}
	// Behind a proxy that terminates TLS the requests arrive over plain HTTP,
	// but the browser talks https to PUBLIC_URL: the cookie must be Secure.
	cfg.SecureCookie = strings.HasPrefix(public, "https://")

	if s := strings.TrimSpace(getenv("GO2FA_SECRET")); s != "" {
		if cfg.Secret, err = parseSecret(s); err != nil {
			return cfg, cleanup, err
		}
	} else {
		cfg.Secret = make([]byte, 32)
		rand.Read(cfg.Secret)
		fmt.Fprintln(stderr, "webdemo: warning: GO2FA_SECRET is not set; using a random secret for this run (codes do not survive a restart)")
	}

	redisURL, databaseURL := strings.TrimSpace(getenv("REDIS_URL")), strings.TrimSpace(getenv("DATABASE_URL"))
	if redisURL != "" && databaseURL != "" {
		return cfg, cleanup, errors.New("set REDIS_URL or DATABASE_URL, not both")
	}
	// callbacks, with REDIS_URL, keeps the Plivo callbacks' state in Redis.
	var callbacks *plivoredis.Config
	if u := databaseURL; u != "" {
		if cfg.Store, err = postgresStore(ctx, u, &closers); err != nil {
			return cfg, cleanup, err
		}
		fmt.Fprintln(stderr, "webdemo: store: postgres (schema "+pgstore.DefaultSchema+")")
	} else if u := redisURL; u != "" {
		opt, err := redis.ParseURL(u)
		if err != nil {
			return cfg, cleanup, fmt.Errorf("REDIS_URL: %w", err)
		}
		opt.PoolSize = max(opt.PoolSize, 64)
		rdb := redis.NewClient(opt)
		closers = append(closers, func() { rdb.Close() })
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = rdb.Ping(pctx).Err()
		cancel()
		if err != nil {
			return cfg, cleanup, fmt.Errorf("REDIS_URL: cannot reach redis at %s: %w", opt.Addr, err)
		}
		st, err := redisstore.New(rdb)
		if err != nil {
			return cfg, cleanup, err
		}
		cfg.Store = st
		callbacks = &plivoredis.Config{Client: rdb, Secret: cfg.Secret}
		mode := "one round trip per request"
		if v := getenv("REDIS_AUTOPIPELINE"); v != "0" && v != "false" {
			if cfg.Store, err = pipelinedChecks(rdb, st); err != nil {
				return cfg, cleanup, err
			}
			mode = "checks autopipelined"
		}
		fmt.Fprintf(stderr, "webdemo: store: redis at %s (%s)\n", opt.Addr, mode)
	} else {
		st := memstore.New()
		closers = append(closers, func() { st.Close() })
		cfg.Store = st
		fmt.Fprintln(stderr, "webdemo: store: memory")
	}

	cfg.Fallback = newFallbackHub(log)
	cfg.Sender, cfg.Mounts, cfg.Policy.Channels, err = senderFromEnv(getenv, log, plivoHTTP, cfg.Fallback, callbacks)
	if err != nil {
		return cfg, cleanup, err
	}
	if cfg.Mounts == nil {
		fmt.Fprintln(stderr, "webdemo: sender: development (codes are printed here, nothing is sent)")
		cfg.Sender = sender.Writer(stderr)
	}
	if cfg.Mounts["/plivo/status"] == nil || cfg.Mounts["/plivo/answer"] == nil {
		cfg.Fallback = nil // no delivery reports, or no voice: nothing to fall back to
	}
	return cfg, cleanup, nil
}

// postgresStore connects to the PostgreSQL at url, creates or updates the
// store's schema and returns the Store; closers gets what must be closed.
func postgresStore(ctx context.Context, url string, closers *[]func()) (store.Store, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included: keep it out.
		return nil, errors.New("DATABASE_URL: not a PostgreSQL connection string")
	}
	if !strings.Contains(url, "pool_max_conns") {
		pc.MaxConns = max(pc.MaxConns, 64)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(pctx, pc)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	*closers = append(*closers, pool.Close)
	if err := pgstore.Migrate(pctx, pool); err != nil {
		return nil, fmt.Errorf("DATABASE_URL: cannot reach or migrate postgres at %s: %w", pc.ConnConfig.Host, err)
	}
	st, err := pgstore.New(pool)
	if err != nil {
		return nil, err
	}
	*closers = append(*closers, func() { st.Close() })
	return st, nil
}

// splitStore sends Check and Attempt, the calls every code entry makes,
// through a second Store and everything else through the first.
type splitStore struct {
	*redisstore.Store // Issue, Withdraw, Fallback and the fallback queue
	checks            store.Store
}

func (s splitStore) Check(ctx context.Context, req store.CheckRequest) (store.CheckResult, error) {
	return s.checks.Check(ctx, req)
}

func (s splitStore) Attempt(ctx context.Context, req store.AttemptRequest) (store.AttemptResult, error) {
	return s.checks.Attempt(ctx, req)
}

// pipelinedChecks runs checks through go-redis's autopipeliner, which
// batches the EVALSHAs of concurrent requests into one write and one read
// per batch: far fewer system calls for the server and for Redis under
// load. Each EVALSHA is still one atomic script. Issue stays on the plain
// client, where redisstore charges a send and all its limits in one script
// (on any other client it charges extra limits with separate scripts).
func pipelinedChecks(rdb *redis.Client, plain *redisstore.Store) (store.Store, error) {
	ap, err := rdb.AutoPipeline()
	if err != nil {
		return nil, err
	}
	fast, err := redisstore.New(ap)
	if err != nil {
		return nil, err
	}
	return splitStore{Store: plain, checks: fast}, nil
}

// senderFromEnv returns a Plivo sender when PLIVO_* are set, with the
// callback handlers to mount and the channels it serves; with no PLIVO_*
// settings it returns nil mounts (the caller uses the development sender).
// With hub, an undelivered SMS falls back to a call (hub.undelivered).
// With callbacks (REDIS_URL set), the direct senders keep the sent
// messages, the accepted callbacks and the call prompts in Redis, so any
// instance sharing that Redis and GO2FA_SECRET can take Plivo's callbacks.
func senderFromEnv(getenv func(string) string, log *slog.Logger, plivoHTTP *http.Client, hub *fallbackHub, callbacks *plivoredis.Config) (sender.Sender, map[string]http.Handler, []sender.Channel, error) {
	if getenv(plivoadapter.EnvAuthID) == "" && getenv(plivoadapter.EnvAuthToken) == "" && getenv(plivoadapter.EnvNumber) == "" {
		return nil, nil, nil, nil
	}
	pc, err := plivoadapter.ConfigFromEnv(getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	pc.HTTPClient = plivoHTTP
	mounts := map[string]http.Handler{}
	if pc.PHLOID != "" {
		p, err := plivoadapter.NewPHLO(pc)
		if err != nil {
			return nil, nil, nil, err
		}
		log.Info("webdemo: sender: plivo PHLO (sms and call)")
		return p, mounts, []sender.Channel{sender.SMS, sender.Call}, nil
	}
	public, err := publicURL(getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	smsOpts := []plivoadapter.Option{plivoadapter.WithLogger(log)}
	voiceOpts := []plivoadapter.Option{plivoadapter.WithLogger(log)}
	// One message store for every sender whose reports reach
	// /plivo/status: the status handler refuses a message its store does
	// not hold.
	var messages plivoadapter.MessageStore = plivoadapter.NewMemoryMessages()
	if callbacks != nil {
		shared, err := plivoredis.NewMessages(*callbacks)
		if err != nil {
			return nil, nil, nil, err
		}
		nonces, err := plivoredis.NewNonces(*callbacks)
		if err != nil {
			return nil, nil, nil, err
		}
		tokens, err := plivoredis.NewTokens(*callbacks)
		if err != nil {
			return nil, nil, nil, err
		}
		messages = shared
		smsOpts = append(smsOpts, plivoadapter.WithNonces(nonces))
		voiceOpts = append(voiceOpts, plivoadapter.WithTokens(tokens), plivoadapter.WithNonces(nonces))
		log.Info("webdemo: plivo callback state: redis")
	}
	smsOpts = append(smsOpts, plivoadapter.WithMessages(messages))
	statusURL := ""
	if public != "" {
		statusURL = public + "/plivo/status"
		smsOpts = append(smsOpts, plivoadapter.WithStatusURL(statusURL),
			plivoadapter.WithOnFailure(func(ctx context.Context, d plivoadapter.Delivery) {
				if hub == nil {
					log.Warn("webdemo: sms not delivered", "delivery", d)
					return
				}
				hub.undelivered(ctx, d)
			}))
	}
	sms, err := plivoadapter.NewSMS(pc, smsOpts...)
	if err != nil {
		return nil, nil, nil, err
	}
	if public != "" {
		mounts["/plivo/status"] = sms.StatusHandler()
	}
	routes := map[sender.Channel]sender.Sender{sender.SMS: sms}
	channels := []sender.Channel{sender.SMS}
	if wa, err := whatsappFromEnv(getenv, pc, statusURL, messages); err != nil {
		return nil, nil, nil, err
	} else if wa != nil {
		routes[sender.WhatsApp] = wa
		channels = append(channels, sender.WhatsApp)
		log.Info("webdemo: sender: plivo WhatsApp", "reports", statusURL != "")
	}
	if public != "" {
		voice, err := plivoadapter.NewVoice(pc, public+"/plivo/answer", voiceOpts...)
		if err != nil {
			return nil, nil, nil, err
		}
		mounts["/plivo/answer"] = voice.AnswerHandler()
		routes[sender.Call] = voice
		channels = append(channels, sender.Call)
		log.Info("webdemo: sender: plivo direct SMS and voice", "answer_url", public+"/plivo/answer")
	} else {
		log.Warn("webdemo: sender: plivo direct SMS only; set PUBLIC_URL (reachable by Plivo) to enable voice calls")
	}
	return sender.ByChannel(routes), mounts, channels, nil
}

// publicURL returns PUBLIC_URL without a trailing slash and with its scheme
// lowercased ("" when unset), or an error unless it is an absolute http(s) URL.
func publicURL(getenv func(string) string) (string, error) {
	public := strings.TrimRight(strings.TrimSpace(getenv("PUBLIC_URL")), "/")
	if public == "" {
		return "", nil
	}
	u, err := url.Parse(public)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", errors.New("PUBLIC_URL must be an absolute http(s) URL")
	}
	return u.Scheme + public[len(u.Scheme):], nil
}

// parseSecret decodes GO2FA_SECRET: hex, or standard or URL-safe base64
// with or without padding; at least 32 bytes.
func parseSecret(s string) ([]byte, error) {
	decoders := []func(string) ([]byte, error){
		hex.DecodeString,
		base64.StdEncoding.DecodeString,
		base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString,
		base64.RawURLEncoding.DecodeString,
	}
	for _, dec := range decoders {
		if b, err := dec(s); err == nil {
			if len(b) < otp.MinSecretLen {
				return nil, errNoSecret
			}
			return b, nil
		}
	}
	return nil, errNoSecret
}
