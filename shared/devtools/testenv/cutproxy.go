package testenv

import (
	"bytes"
	"net"
	"sync"
	"testing"
)

// CutProxy stands between a client and a TCP server (PostgreSQL). Armed with a
// piece of a statement (CutOn), it cuts every connection when a client sends it
// (a transaction is then open, and what it wrote is rolled back) and refuses the
// next connections: an outage in the middle of a batch, for the tests of what
// rides one out.
type CutProxy struct {
	ln      net.Listener
	mu      sync.Mutex
	trigger []byte
	refuse  int // connections still to refuse after the cut
	then    int // how many the next cut refuses
	refused int
	cut     bool
	conns   []net.Conn
}

// NewCutProxy listens on a free loopback port and forwards to target (host:port)
// until the test ends.
func NewCutProxy(t testing.TB, target string) *CutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &CutProxy{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.refuse > 0 {
				p.refuse--
				p.refused++
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.mu.Unlock()
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			wg.Go(func() { p.pipe(s, c, true) })
			wg.Go(func() { p.pipe(c, s, false) })
		}
	})
	return p
}

// Addr is the proxy's host:port.
func (p *CutProxy) Addr() string { return p.ln.Addr().String() }

// CutOn arms the proxy: the next time a client sends text, every connection is
// cut and the next refuse connections are refused.
func (p *CutProxy) CutOn(text string, refuse int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trigger, p.then = []byte(text), refuse
}

// Outcome reports whether the cut happened and how many connections were refused.
func (p *CutProxy) Outcome() (cut bool, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut, p.refused
}

// pipe copies src to dst; from the client, it watches for the trigger.
func (p *CutProxy) pipe(dst, src net.Conn, fromClient bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 64<<10)
	var tail []byte
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if fromClient {
				p.mu.Lock()
				window := append(tail, buf[:n]...)
				if p.trigger != nil && bytes.Contains(window, p.trigger) {
					p.trigger, p.cut, p.refuse = nil, true, p.then
					for _, c := range p.conns {
						c.Close()
					}
					p.conns = nil
					p.mu.Unlock()
					return
				}
				tail = append(tail[:0], window[max(0, len(window)-256):]...)
				p.mu.Unlock()
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
