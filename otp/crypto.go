package otp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// MinSecretLen is the shortest secret NewVerifier accepts, in bytes.
const MinSecretLen = 32

// keyring holds the keys derived from the Verifier's secret, one per
// purpose, so that no value computed for one purpose can be replayed as
// another. Every derived key is HMAC-SHA256(secret, label).
type keyring struct {
	dest   macPool // destination -> store key
	code   macPool // destination || binding || code -> digest
	limit  macPool // per-call limit key -> store limit key
	print  macPool // destination -> fingerprint for observers
	scopes macPool // destination || binding -> store scope
	ref    macPool // store key || code tag || channel -> fallback reference MAC
	aead   cipher.AEAD
}

// macPool hands out keyed HMAC states with scratch buffers, so that a
// digest costs no allocation once the pool is warm.
type macPool struct{ p sync.Pool }

type macState struct {
	h   hash.Hash
	msg []byte // the message, assembled before one Write
	out []byte // the sum, before it is copied to the caller
}

func newMacPool(secret []byte, label string) macPool {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("go2fa/v1/" + label))
	key := m.Sum(nil)
	return macPool{p: sync.Pool{New: func() any {
		return &macState{h: hmac.New(sha256.New, key), msg: make([]byte, 0, 128), out: make([]byte, 0, sha256.Size)}
	}}}
}

// sum appends to dst the HMAC of the parts, each but the last followed by a
// 0 byte (E.164 numbers, codes and the fixed separators never contain one;
// a binding sits between the number and the fixed-length code, so the
// split is unambiguous).
func (m *macPool) sum(dst []byte, parts ...string) []byte {
	st := m.p.Get().(*macState)
	st.msg = st.msg[:0]
	for i, p := range parts {
		if i > 0 {
			st.msg = append(st.msg, 0)
		}
		st.msg = append(st.msg, p...)
	}
	st.h.Reset()
	st.h.Write(st.msg)
	st.out = st.h.Sum(st.out[:0])
	dst = append(dst, st.out...)
	if cap(st.msg) <= 1024 { // do not keep a buffer grown by a huge binding
		m.p.Put(st)
	}
	return dst
}

func newKeyring(secret []byte) (*keyring, error) {
	k := &keyring{
		dest:   newMacPool(secret, "destination"),
		code:   newMacPool(secret, "code"),
		limit:  newMacPool(secret, "limit"),
		print:  newMacPool(secret, "fingerprint"),
		scopes: newMacPool(secret, "scope"),
		ref:    newMacPool(secret, "ref"),
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("go2fa/v1/seal"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return k, nil
}

// storeKey derives the opaque store key of a destination: 128 bits of
// HMAC, base64url (22 characters, [A-Za-z0-9_-]).
func (k *keyring) storeKey(e164 string) string {
	var buf [sha256.Size]byte
	sum := k.dest.sum(buf[:0], e164)
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// limitKey derives the store key of a per-call limit key.
func (k *keyring) limitKey(s string) string {
	var buf [sha256.Size]byte
	sum := k.limit.sum(buf[:0], s)
	return "k-" + base64.RawURLEncoding.EncodeToString(sum[:16])
}

// fingerprint identifies a destination in events and logs without
// revealing it: 64 bits of HMAC, hex.
func (k *keyring) fingerprint(e164 string) string {
	var buf [sha256.Size]byte
	sum := k.print.sum(buf[:0], e164)
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 16)
	for i, b := range sum[:8] {
		out[2*i], out[2*i+1] = hexdigits[b>>4], hexdigits[b&15]
	}
	return string(out)
}

// scope derives the store scope of a code bound to binding: 128 bits of
// HMAC of destination and binding; nil without a binding.
func (k *keyring) scope(e164, binding string) []byte {
	if binding == "" {
		return nil
	}
	var buf [sha256.Size]byte
	return append([]byte(nil), k.scopes.sum(buf[:0], e164, binding)[:16]...)
}

// digest is HMAC-SHA256(code key, destination || binding || code).
func (k *keyring) digest(dst []byte, e164, binding, code string) []byte {
	return k.code.sum(dst, e164, binding, code)
}

// seal encrypts a code for KeepCode, bound to its store key.
func (k *keyring) seal(code, key string) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(code)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("otp: reading randomness: %w", err)
	}
	return k.aead.Seal(nonce, nonce, []byte(code), []byte(key)), nil
}

var errSealed = errors.New("otp: kept code cannot be decrypted")

// open decrypts a sealed code.
func (k *keyring) open(sealed []byte, key string) (string, error) {
	ns := k.aead.NonceSize()
	if len(sealed) < ns+k.aead.Overhead() {
		return "", errSealed
	}
	plain, err := k.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(key))
	if err != nil {
		return "", errSealed
	}
	return string(plain), nil
}
