// Package redistest runs a real redis-server for tests, and a TCP proxy to
// put in front of one, so a service that keeps its state in Redis (through
// go2fa's redisstore or otherwise) can be tested against the failures a
// real deployment sees: the server killed and restarted, the network slow,
// the server not answering at all. It is to Redis what net/http/httptest is
// to HTTP, and imports only the standard library.
//
// StartServer starts a redis-server owned by the test, on a free loopback
// port, with no persistence; Server.Kill sends it SIGKILL and
// Server.Restart starts it again, empty, on the same port. ServerBin finds
// the binary: REDIS_SERVER_BIN, or redis-server on PATH; without one the
// test is skipped with a message saying how to run it.
//
// NewProxy forwards TCP connections to an address (a Server's, or any
// other Redis): Proxy.SetDelay holds every chunk of traffic for a while,
// Proxy.Stall stops forwarding altogether, and Proxy.DropConns closes what
// the proxy holds and ends the stall.
//
// Everything a test starts here is stopped by tb.Cleanup.
package redistest

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ServerBin returns the redis-server binary to start: the value of the
// REDIS_SERVER_BIN environment variable, or redis-server on PATH. When
// neither is there it skips the test (tb.Skip), with a message saying how to
// run it.
func ServerBin(tb testing.TB) string {
	tb.Helper()
	if bin := os.Getenv("REDIS_SERVER_BIN"); bin != "" {
		return bin
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Skip("redistest: no redis-server: set REDIS_SERVER_BIN or put redis-server on PATH to run this test")
	}
	return bin
}

// FreeAddr returns a loopback address ("127.0.0.1:port") that nothing
// listens on at the time of the call: a port for a server to start on, or
// an address whose connections are refused.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Server is a redis-server started by a test, listening on loopback only,
// with no persistence (no RDB snapshots, no AOF), so every start is empty.
//
// A Server is safe for concurrent use, but Restart may fail the test and,
// like tb.Fatal, must then be called from the goroutine running the test.
type Server struct {
	tb   testing.TB
	bin  string
	addr string
	port string
	dir  string

	mu  sync.Mutex // serialises Kill and Restart
	cmd *exec.Cmd  // nil while killed
}

// StartServer starts a redis-server (the binary ServerBin returns, so the
// test is skipped when there is none) on a free loopback port and returns
// once it answers PING. It fails the test if the server does not start; the
// server is killed by tb.Cleanup.
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	bin := ServerBin(tb)
	addr := FreeAddr(tb)
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	// TempDir first: cleanups run last-in first-out, so the server is
	// killed before its directory is removed.
	s := &Server{tb: tb, bin: bin, addr: addr, port: port, dir: tb.TempDir()}
	tb.Cleanup(s.Kill)
	s.start()
	return s
}

// Addr returns the address the server listens on, "127.0.0.1:port"; it
// stays the same across Restart.
func (s *Server) Addr() string { return s.addr }

// Kill sends SIGKILL to the server and waits for it to exit, as an
// abrupt crash would end it: clients see their connections reset and new
// ones refused. Calling Kill on a killed server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
}

// Restart starts the server again on the same port, empty, after killing it
// if it still runs, and returns once it answers PING. It fails the test if
// the server does not start.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	s.start()
}

// kill is Kill with s.mu held.
func (s *Server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
}

// start starts the process and waits until it answers PING.
func (s *Server) start() {
	s.tb.Helper()
	logPath := filepath.Join(s.dir, "redis-server.log")
	if err := s.spawn(logPath); err != nil {
		s.tb.Fatalf("redistest: starting %s: %v", s.bin, err)
	}
	for range 200 {
		if ping(s.addr) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	// The log holds the server's own startup lines (no password is ever
	// configured here), which say why it did not start.
	log, _ := os.ReadFile(logPath) //nolint:gosec // G304: a file in the test's own TempDir
	s.tb.Fatalf("redistest: redis-server on %s did not start:\n%s", s.addr, log)
}

// spawn starts the redis-server process, its output going to logPath.
func (s *Server) spawn(logPath string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
	out, err := os.Create(logPath) //nolint:gosec // G304: a file in the test's own TempDir
	if err != nil {
		return err
	}
	defer out.Close() // the child has its own copy
	// The binary is REDIS_SERVER_BIN or redis-server on PATH: the one
	// running the tests picks it on purpose.
	cmd := exec.Command(s.bin, "--port", s.port, "--bind", "127.0.0.1", //nolint:gosec // G204: see above
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--daemonize", "no")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	return nil
}

// ping reports whether a Redis server at addr answers PING.
func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return false
	}
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// Proxy forwards TCP connections from a loopback address to a target, in
// both directions, and can delay or stall what it forwards: put it between
// a client and Redis to see how the client copes with a slow or hung
// server. A Proxy is safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	cond    *sync.Cond // signalled when stalled or closed changes
	delay   time.Duration
	stalled bool
	closed  bool
	conns   map[net.Conn]struct{}
	done    chan struct{} // closed by close
	wg      sync.WaitGroup
}

// NewProxy starts a proxy to target (host:port) on a free loopback port.
// Each connection to the proxy opens one to target; when target refuses,
// the client's connection is closed. The proxy forwards at once until told
// otherwise, and is closed, with every connection it holds, by tb.Cleanup.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: starting a proxy: %v", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Go(p.serve)
	tb.Cleanup(p.close)
	return p
}

// Addr returns the address clients connect to, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetDelay makes the proxy hold every chunk it reads, in either direction,
// for d before forwarding it; 0 forwards at once again. A chunk already
// held keeps the delay it was given.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Stall stops forwarding, in both directions, on every connection: what the
// proxy reads from then on it holds, so a call hangs and the server never
// sees it. DropConns ends the stall.
func (p *Proxy) Stall() {
	p.mu.Lock()
	p.stalled = true
	p.mu.Unlock()
}

// DropConns closes every connection the proxy holds, on both sides,
// discarding what a stall held back, and ends the stall; new connections
// are forwarded again.
func (p *Proxy) DropConns() {
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	p.stalled = false
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *Proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			in.Close()
			out.Close()
			return
		}
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() {
			// Each pipe closes the connection it writes to when it ends,
			// which ends the other pipe too.
			var pair sync.WaitGroup
			pair.Go(func() { p.pipe(in, out) })
			p.pipe(out, in)
			pair.Wait()
			p.mu.Lock()
			delete(p.conns, in)
			delete(p.conns, out)
			p.mu.Unlock()
		})
	}
}

// pipe copies src to dst, chunk by chunk, as the stall and delay say.
func (p *Proxy) pipe(src, dst net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.stalled && !p.closed {
				p.cond.Wait()
			}
			delay := p.delay
			p.mu.Unlock()
			if delay > 0 {
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-p.done:
					t.Stop()
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

// close stops the proxy: no new connections, every held one closed, and
// every goroutine of the proxy ended before it returns.
func (p *Proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	p.mu.Unlock()
	p.cond.Broadcast()
	p.wg.Wait()
}
