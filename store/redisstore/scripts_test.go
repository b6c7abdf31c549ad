package redisstore

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/store"
)

var (
	luaComment    = regexp.MustCompile(`--[^\n]*`)
	luaString     = regexp.MustCompile(`'[^'\n]*'|"[^"\n]*"`)
	luaBareReturn = regexp.MustCompile(`\breturn\s*\{?\s*-?[0-9]`)
	luaConstName  = regexp.MustCompile(`\b[A-Z][A-Z0-9_]*[A-Z0-9]\b`)
	luaLocalConst = regexp.MustCompile(`\blocal\s+([A-Z][A-Z0-9_]*(?:\s*,\s*[A-Z][A-Z0-9_]*)*)\s*=`)
)

// luaCode returns a script file without its comments and string literals.
func luaCode(t *testing.T, path string) string {
	t.Helper()
	src, err := fs.ReadFile(os.DirFS("."), path) // the package's own .lua files
	if err != nil {
		t.Fatal(err)
	}
	code := luaComment.ReplaceAllString(string(src), "")
	return luaString.ReplaceAllString(code, "''")
}

// TestScriptsReplyWithGoConstants ties the scripts' replies to the Go
// constants they are read with: no script returns a bare number where a
// status goes (it returns a name, such as LOCKED, declared from
// store.Locked by luaPrelude), and every such name a script uses is one
// the prelude declares or the script itself defines. Renumbering
// store.CheckStatus or the others then renumbers the scripts' replies.
func TestScriptsReplyWithGoConstants(t *testing.T) {
	files, err := filepath.Glob("*.lua")
	if err != nil || len(files) == 0 {
		t.Fatalf("no .lua files: %v", err)
	}
	declared := map[string]bool{"KEYS": true, "ARGV": true}
	for _, c := range luaConstants {
		if declared[c.name] {
			t.Errorf("Lua constant %s declared twice", c.name)
		}
		declared[c.name] = true
	}
	for _, f := range files {
		code := luaCode(t, f)
		for _, m := range luaBareReturn.FindAllString(code, -1) {
			t.Errorf("%s: %q returns a number literal: return a constant from luaConstants", f, m)
		}
		local := map[string]bool{}
		for _, m := range luaLocalConst.FindAllStringSubmatch(code, -1) {
			for name := range strings.SplitSeq(m[1], ",") {
				local[strings.TrimSpace(name)] = true
			}
		}
		for _, name := range luaConstName.FindAllString(code, -1) {
			if !declared[name] && !local[name] {
				t.Errorf("%s uses %s, which neither luaConstants nor the file declares", f, name)
			}
		}
	}
	for _, c := range luaConstants {
		if strings.HasPrefix(c.name, "LIMIT_") || c.name == "NO_LIMIT" {
			if c.value == reasonRetry {
				t.Errorf("%s = reasonRetry (%d): the retried Issue would read as that reason", c.name, c.value)
			}
		}
	}
}

// TestPackedArgumentMalformed: a packed argument that is not exactly the
// integers a script wants fails the script (an error, never a reply read
// with zeros for the missing limits).
func TestPackedArgumentMalformed(t *testing.T) {
	c := miniBackend().client(t)
	s := newTestStore(t, c)
	ctx := t.Context()
	keys := []string{s.destKey("k")}
	fp := codeArg([]byte("d"), nil)
	for _, packed := range []string{"", "5:20:0", "5:20:0:1:2", "5::20:0:1", "5:20:0:1:", ":5:20:0:1", "5:x:0:1", "5:20:0:1.5"} {
		if err := checkScript.Run(ctx, c, keys, fp, packed, "", "p").Err(); err == nil {
			t.Errorf("check script with packed argument %q: no error", packed)
		}
	}
	v, err := checkScript.Run(ctx, c, keys, fp, "5:20:0:60000", "", "p").Result()
	if res, ok := checkReply(v, 5); err != nil || !ok || res.Status != store.Expired {
		t.Errorf("check script with a well-formed argument = %v, %v; want Expired", v, err)
	}
}

// TestIntegerArgumentsMalformed: the issue and fallback scripts given
// integer arguments that are not exactly the integers they want (too few, too many, empty, not a
// number, fractional) fails (an error, never a reply read with zeros for
// the missing limits), and the well-formed call works.
func TestIntegerArgumentsMalformed(t *testing.T) {
	c := miniBackend().client(t)
	s := newTestStore(t, c)
	ctx := t.Context()
	dest := s.destKey("k")
	fp := codeArg([]byte("d"), nil)
	cases := []struct {
		name   string
		script *redis.Script
		keys   []string
		fixed  []any // the arguments before the integers
		good   []any // well-formed integers
	}{
		{"issue", issueScript, []string{dest}, []any{fp, "", "", "p"}, []any{0, 300000, 30000, 3600000, 5, 20, 0, -1, 0}},
		{"fallback", fallbackScript, []string{dest, dest + ":b"}, []any{"t", "", "p"}, []any{30000, 3600000, 5, 20, 0, -1, 0, 1}},
	}
	for _, tc := range cases {
		run := func(ints ...any) error {
			return tc.script.Run(ctx, c, tc.keys, append(slices.Clone(tc.fixed), ints...)...).Err()
		}
		bad := map[string][]any{
			"none":     {},
			"too few":  tc.good[:len(tc.good)-1],
			"too many": append(slices.Clone(tc.good), 1),
		}
		for i, v := range []any{"", "x", "1.5", "5:20", "nan", "inf"} {
			ints := slices.Clone(tc.good)
			ints[i%len(ints)] = v
			bad[fmt.Sprintf("%q at %d", v, i%len(ints))] = ints
		}
		for name, ints := range bad {
			if err := run(ints...); err == nil {
				t.Errorf("%s script with integers %s (%v): no error", tc.name, name, ints)
			}
		}
		if err := run(tc.good...); err != nil {
			t.Errorf("%s script with well-formed integers: %v", tc.name, err)
		}
		if err := c.Del(ctx, dest).Err(); err != nil {
			t.Fatal(err)
		}
	}
}
