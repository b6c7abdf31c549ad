package otp_test

import (
	"os"
	"strings"
	"testing"
)

// The quick start in README.md is the body of Example_quickStart, so the
// code a reader copies is code that compiles and runs (go test runs the
// Example and checks its output).
func TestReadmeQuickStart(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(readme) >= 15<<10 {
		t.Errorf("README.md is %d bytes; keep the front page under 15 KB and move detail to docs/", len(readme))
	}
	_, after, ok := strings.Cut(string(readme), "\n## Quick start\n")
	if !ok {
		t.Fatal("README.md has no \"## Quick start\" section")
	}
	_, after, ok = strings.Cut(after, "```go\n")
	block, _, ok2 := strings.Cut(after, "```\n")
	if !ok || !ok2 {
		t.Fatal("the quick start has no ```go block")
	}
	src, err := os.ReadFile("quickstart_example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(src), "func Example_quickStart() {\n")
	body, _, ok2 = strings.Cut(body, "\t// Output:\n")
	if !ok || !ok2 {
		t.Fatal("Example_quickStart not found")
	}
	var want strings.Builder
	for _, line := range strings.SplitAfter(body, "\n") {
		want.WriteString(strings.TrimPrefix(line, "\t"))
	}
	if block != want.String() {
		t.Errorf("README.md's quick start differs from Example_quickStart's body:\n--- README\n%s--- Example\n%s", block, want.String())
	}
}
