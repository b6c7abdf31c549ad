package otp_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestConstantTimeComparison proves SECURITY.md's "timing attacks" row
// without measuring time (a timing test would be flaky on a shared
// machine): it reads the source of
// every package that compares secrets — memstore (code digests), otp/totp
// (authenticator codes) and plivoadapter (callback signatures) — and fails
// if a digest, code or signature is compared with ==, != or bytes.Equal
// instead of crypto/subtle, or if a package stops using crypto/subtle.
//
// redisstore compares digests inside Lua, where strings are interned and
// == compares references, so its time does not depend on the content; and
// a digest is an HMAC under a secret the store never sees, so its
// comparison time tells a guesser nothing either way.
func TestConstantTimeComparison(t *testing.T) {
	t.Parallel()
	dirs := map[string]string{ // directory -> the kind of secret it compares
		"../store/memstore": "digest",
		"totp":              "code",
		"../plivoadapter":   "sig",
	}
	for dir, secret := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		subtleCalls := 0
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
						if pkg, ok := sel.X.(*ast.Ident); ok {
							switch {
							case pkg.Name == "subtle" && sel.Sel.Name == "ConstantTimeCompare",
								pkg.Name == "hmac" && sel.Sel.Name == "Equal":
								subtleCalls++
							case pkg.Name == "bytes" && (sel.Sel.Name == "Equal" || sel.Sel.Name == "Compare"):
								t.Errorf("%s: bytes.%s: compare secrets with crypto/subtle", fset.Position(n.Pos()), sel.Sel.Name)
							}
						}
					}
				case *ast.BinaryExpr:
					if n.Op != token.EQL && n.Op != token.NEQ || emptiness(n.X) || emptiness(n.Y) {
						return true // not a comparison, or a test for "" / nil
					}
					for _, side := range []ast.Expr{n.X, n.Y} {
						if names(side, secret) {
							t.Errorf("%s: %s compared with %s: use crypto/subtle", fset.Position(n.Pos()), secret, n.Op)
						}
					}
				}
				return true
			})
		}
		if subtleCalls == 0 {
			t.Errorf("%s compares %ss without crypto/subtle", dir, secret)
		}
	}
}

// names reports whether e is an identifier or field whose name starts with
// prefix (digest, e.digest, sig, ...), or a conversion of one (string(d)).
func names(e ast.Expr, prefix string) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return strings.HasPrefix(strings.ToLower(e.Name), prefix)
	case *ast.SelectorExpr:
		return strings.HasPrefix(strings.ToLower(e.Sel.Name), prefix)
	case *ast.CallExpr:
		if len(e.Args) == 1 {
			if id, ok := e.Fun.(*ast.Ident); ok && (id.Name == "string" || id.Name == "[]byte") {
				return names(e.Args[0], prefix)
			}
		}
	}
	return false
}

// emptiness reports whether e is "" or nil.
func emptiness(e ast.Expr) bool {
	if lit, ok := e.(*ast.BasicLit); ok {
		return lit.Value == `""`
	}
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "nil"
}
