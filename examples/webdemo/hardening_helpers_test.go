package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Helpers of the hardening tests: a redis-server this test owns (and may
// SIGKILL), a TCP proxy that delays, and an HTTP helper safe to call from
// worker goroutines.

// redisServerBin is the redis-server to start: REDIS_SERVER_BIN, or
// redis-server on PATH; the test skips when there is none.
func redisServerBin(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("REDIS_SERVER_BIN"); bin != "" {
		return bin
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server: set REDIS_SERVER_BIN (.ci/run does) or put redis-server on PATH to run this fault test")
	}
	return bin
}

// freePort returns a loopback port nothing listens on (at the time).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// redisProc is a redis-server started by the test, on loopback, with no
// persistence.
type redisProc struct {
	t    *testing.T
	bin  string
	port int
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisProc {
	t.Helper()
	p := &redisProc{t: t, bin: redisServerBin(t), port: freePort(t), dir: t.TempDir()}
	p.start()
	t.Cleanup(p.kill)
	return p
}

func (p *redisProc) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

func (p *redisProc) start() {
	p.t.Helper()
	// The binary is REDIS_SERVER_BIN or redis-server on PATH: the one
	// running the tests picks it on purpose.
	cmd := exec.Command(p.bin, "--port", strconv.Itoa(p.port), "--bind", "127.0.0.1", //nolint:gosec // G204: see above
		"--save", "", "--appendonly", "no", "--dir", p.dir, "--daemonize", "no")
	out, err := os.Create(p.dir + "/log")
	if err != nil {
		p.t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("starting %s: %v", p.bin, err)
	}
	p.mu.Lock()
	p.cmd = cmd
	p.mu.Unlock()
	c := redis.NewClient(&redis.Options{Addr: p.addr(), MaxRetries: -1})
	defer c.Close()
	for range 200 {
		if c.Ping(context.Background()).Err() == nil {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	log, _ := os.ReadFile(p.dir + "/log")
	p.t.Fatalf("redis-server on port %d did not start:\n%s", p.port, log)
}

// kill sends SIGKILL and reaps the process; it is safe to call twice.
func (p *redisProc) kill() {
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

// delayProxy forwards TCP to a backend on loopback; while slow, it holds
// every chunk for delay before forwarding it (both directions).
type delayProxy struct {
	ln      net.Listener
	backend string
	delay   time.Duration
	mu      sync.Mutex
	slow    bool
	conns   []net.Conn
	done    chan struct{}
}

func newDelayProxy(t *testing.T, backend string, delay time.Duration) *delayProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &delayProxy{ln: ln, backend: backend, delay: delay, done: make(chan struct{})}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *delayProxy) addr() string { return p.ln.Addr().String() }

func (p *delayProxy) setSlow(on bool) {
	p.mu.Lock()
	p.slow = on
	p.mu.Unlock()
}

func (p *delayProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.backend)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

func (p *delayProxy) pipe(src, dst net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			slow := p.slow
			p.mu.Unlock()
			if slow {
				select {
				case <-time.After(p.delay):
				case <-p.done:
					return
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *delayProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
}

// reply is one HTTP answer of the app, whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.body, &m)
	return m
}

// postJSON posts body to url and reads the whole answer; unlike post it
// does not fail the test, so worker goroutines can call it.
func postJSON(c *http.Client, url, body string) (reply, error) {
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// numberForms returns the ways a number could show up: E.164 with and
// without "+", and the national significant digits (NANP numbers only
// here: the digits after the leading 1).
func numberForms(e164 string) []string {
	digits := strings.TrimPrefix(e164, "+")
	return []string{e164, digits, strings.TrimPrefix(digits, "1")}
}

// containsToken reports whether s holds tok not flanked by other digits
// (so a code is not "found" inside an unrelated longer number, such as a
// millisecond timestamp).
func containsToken(s []byte, tok string) bool {
	re := regexp.MustCompile(`(^|[^0-9])` + regexp.QuoteMeta(tok) + `($|[^0-9])`)
	return re.Match(s)
}

// codeRun finds the first 4-10 digit code in a Plivo request body.
var codeRun = regexp.MustCompile(`code is ([0-9]{4,10})`)

func codeInBody(b []byte) string {
	if m := codeRun.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}
