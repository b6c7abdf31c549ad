package totp_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps package totp light: the standard library, package store
// and boombuler/barcode only; not package otp, go-redis or plivo-go. (Test
// files may import more.)
func TestImports(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	allowed := func(p string) bool {
		return !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") || // standard library
			p == "github.com/go2fa/go2fa/store" ||
			strings.HasPrefix(p, "github.com/boombuler/barcode")
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		n++
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, is := range af.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			if !allowed(p) {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
	if n == 0 {
		t.Fatal("no package files found")
	}
}
