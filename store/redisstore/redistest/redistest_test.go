package redistest_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go2fa/go2fa/store/redisstore/redistest"
)

// roundTrip sends one RESP command on c and reads one reply line.
func roundTrip(c net.Conn, r *bufio.Reader, cmd string) (string, error) {
	if err := c.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, cmd); err != nil {
		return "", err
	}
	return r.ReadString('\n')
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

const (
	setCmd = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
	getCmd = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
)

func TestServerKillRestart(t *testing.T) {
	s := redistest.StartServer(t)
	c, r := dial(t, s.Addr())
	if got, err := roundTrip(c, r, setCmd); err != nil || got != "+OK\r\n" {
		t.Fatalf("SET = %q, %v; want +OK", got, err)
	}
	s.Kill()
	s.Kill() // a second Kill does nothing
	if _, err := net.Dial("tcp", s.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after Kill: err = %v, want ECONNREFUSED", err)
	}
	s.Restart()
	c, r = dial(t, s.Addr())
	if got, err := roundTrip(c, r, getCmd); err != nil || got != "$-1\r\n" {
		t.Fatalf("GET after Restart = %q, %v; want $-1 (an empty server)", got, err)
	}
}

// echo starts a TCP server that writes back what it reads.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestProxy(t *testing.T) {
	t.Parallel()
	p := redistest.NewProxy(t, echo(t))
	c, r := dial(t, p.Addr())
	if got, err := roundTrip(c, r, "a\n"); err != nil || got != "a\n" {
		t.Fatalf("through the proxy = %q, %v; want %q", got, err, "a\n")
	}

	p.SetDelay(100 * time.Millisecond)
	start := time.Now()
	if got, err := roundTrip(c, r, "b\n"); err != nil || got != "b\n" {
		t.Fatalf("delayed = %q, %v; want %q", got, err, "b\n")
	}
	// Held once each way.
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("round trip with a 100ms delay took %v, want at least 200ms", d)
	}
	p.SetDelay(0)

	p.Stall()
	if err := c.SetDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "c\n"); err != nil {
		t.Fatal(err)
	}
	var ne net.Error
	if got, err := r.ReadString('\n'); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read while stalled = %q, %v; want a timeout", got, err)
	}
	p.DropConns()
	if got, err := r.ReadString('\n'); err == nil || strings.Contains(got, "c") {
		t.Fatalf("read after DropConns = %q, %v; want an error and nothing held back", got, err)
	}
	c2, r2 := dial(t, p.Addr())
	if got, err := roundTrip(c2, r2, "d\n"); err != nil || got != "d\n" {
		t.Fatalf("new connection after DropConns = %q, %v; want %q", got, err, "d\n")
	}
}

func TestFreeAddrRefused(t *testing.T) {
	t.Parallel()
	if _, err := net.Dial("tcp", redistest.FreeAddr(t)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial FreeAddr: err = %v, want ECONNREFUSED", err)
	}
}
