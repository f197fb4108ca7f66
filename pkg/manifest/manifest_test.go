package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

func TestSplit(t *testing.T) {
	stream := strings.Join([]string{
		"# a leading comment", // 1: a document of only a comment is dropped
		"---",                 // 2
		"a: 1",                // 3
		"--- # second",        // 4: a separator with a comment
		"b: |",                // 5
		"  x",                 // 6
		"  ---",               // 7: indented, inside a block scalar: not a separator
		"---  \t",             // 8: trailing blanks
		"",                    // 9
		"# only a comment",    // 10
		"---\r",               // 11: CRLF
		"----",                // 12: not a separator
		"c: 3",                // 13, no final newline
	}, "\n")
	want := []Document{
		{Line: 3, Text: "a: 1\n"},
		{Line: 5, Text: "b: |\n  x\n  ---\n"},
		{Line: 12, Text: "----\nc: 3"},
	}
	if diff := cmp.Diff(want, Split(stream)); diff != "" {
		t.Errorf("Split (-want +got):\n%s", diff)
	}
	if got := Split("---\n---\n# nothing\n"); len(got) != 0 {
		t.Errorf("Split of empty documents = %v", got)
	}
	for stream, want := range map[string][]Document{
		"x: 1\n---\n":       {{Line: 1, Text: "x: 1\n"}},
		"x: 1\n---":         {{Line: 1, Text: "x: 1\n"}},
		"--- x\n":           {{Line: 1, Text: "--- x\n"}}, // content after the marker: not our separator
		"---#c\n\ny: 2\r\n": {{Line: 2, Text: "\ny: 2\r\n"}},
		"":                  nil,
	} {
		if diff := cmp.Diff(want, Split(stream)); diff != "" {
			t.Errorf("Split(%q) (-want +got):\n%s", stream, diff)
		}
	}
}

func TestExcerpt(t *testing.T) {
	text := "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\nl11\nl12\n"
	// Around a mark: 4 lines either side, numbered from the stream line the
	// text starts on, the mark pointed at.
	want := strings.Join([]string{
		"     6 | l1",
		"     7 | l2",
		"     8 | l3",
		"     9 | l4",
		"  > 10 | l5",
		"    11 | l6",
		"    12 | l7",
		"    13 | l8",
		"    14 | l9",
	}, "\n")
	if got := Excerpt(text, 6, 10); got != want {
		t.Errorf("Excerpt with a mark:\n%s\nwant\n%s", got, want)
	}
	// Without a mark: from the start; the width fits the last line quoted.
	if got, want := Excerpt("a\nb\n", 8, 0), "    8 | a\n    9 | b"; got != want {
		t.Errorf("Excerpt without a mark:\n%s\nwant\n%s", got, want)
	}
	// A long document is cut after maxExcerptLines lines.
	long := strings.Repeat("x\n", maxExcerptLines+5)
	got := Excerpt(long, 1, 0)
	lines := strings.Split(got, "\n")
	if len(lines) != maxExcerptLines+1 || lines[len(lines)-1] != "       | … (5 more lines)" || lines[0] != "     1 | x" {
		t.Errorf("Excerpt of a long document ends %q (%d lines)", lines[len(lines)-1], len(lines))
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		line       int // of the error in the stream; the document starts on line 10
		msg        string
	}{
		{"no identity", "a: 1\n", 10, "document has no apiVersion, kind, metadata.name"},
		{"no name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 3}\n", 10, "document has no metadata.name"},
		{"invalid YAML", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [a\n", 13, "invalid YAML: yaml: line 13: did not find expected ',' or ']'"},
		{"duplicate key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nkind: Secret\n", 13, `invalid YAML: yaml: unmarshal errors:` + "\n" + `  line 13: key "kind" already set in map`},
		{"a list", "- a\n", 10, "document is a list, not an object"},
		{"null", "~\n", 10, "document is a null, not an object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(Document{Line: 10, Text: tc.text})
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("got %v, want an *Error", err)
			}
			if e.Line != tc.line || e.Msg != tc.msg {
				t.Errorf("got line %d msg %q, want line %d msg %q", e.Line, e.Msg, tc.line, tc.msg)
			}
			if !strings.Contains(e.Excerpt, "  10 | ") {
				t.Errorf("the excerpt is not numbered from line 10:\n%s", e.Excerpt)
			}
			if !strings.HasPrefix(e.Error(), "line ") {
				t.Errorf("Error() = %q", e.Error())
			}
		})
	}
	u, err := Decode(Document{Line: 1, Text: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: b}\ndata: {k: v}\n"})
	if err != nil || u.GetName() != "a" || u.GetNamespace() != "b" || u.GetKind() != "ConfigMap" {
		t.Errorf("Decode = %v, %v", u, err)
	}
	objs, lines, err := DecodeAll("apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\napiVersion: v1\nkind: B\nmetadata: {name: b}\n")
	if err != nil || len(objs) != 2 || objs[1].GetKind() != "B" || !cmp.Equal(lines, []int{1, 5}) {
		t.Errorf("DecodeAll = %v, %v, %v", objs, lines, err)
	}
}

// decodeMap decodes YAML without sigs.k8s.io/yaml's round trip through JSON
// text; what it returns must be what that round trip returns.
func TestDecodeMapMatchesJSONRoundTrip(t *testing.T) {
	docs := []string{
		"a: 1\nb: -7\nc: 9223372036854775807\nd: 18446744073709551615\n",
		"f: 1.5\ng: 2.0\nh: 1e3\ni: -0.0\nj: 0x1F\nk: 0o17\nl: 1_000\n",
		"yes: y\nno: n\nx: off\nt: true\nnl: null\ne: ~\nempty:\n",
		"1: one\n2.5: float key\ntrue: bool key\n",
		"ts: 2024-01-01T00:00:00Z\ndate: 2024-01-01\nbin: !!binary aGVsbG8=\nstr: !!str 123\n",
		"base: &b {x: 1, y: [a, b]}\nmerged:\n  <<: *b\n  z: 2\nlist: [*b, *b]\n",
		"html: \"<a href='x'>&amp;</a>\"\nuni: \"\\u2028 é \\U0001F600\"\nblock: |\n  line\n  ---\n",
		"nested: {a: [{b: [1, {c: null}]}, [], {}]}\n",
		"1: a\n\"1\": b\n",
	}
	for _, text := range docs {
		js, err := yaml.YAMLToJSONStrict([]byte(text))
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		var want any
		if err := utiljson.Unmarshal(js, &want); err != nil {
			t.Fatal(err)
		}
		got, err := decodeMap(Document{Line: 1, Text: text})
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if text == docs[len(docs)-1] {
			// Colliding keys: which one JSON keeps is not defined; one is kept.
			if len(got) != 1 {
				t.Errorf("colliding keys gave %v", got)
			}
			continue
		}
		if diff := cmp.Diff(want, any(got)); diff != "" {
			t.Errorf("%q (-JSON round trip +decodeMap):\n%s", text, diff)
		}
	}
	// Both roads are taken above.
	if _, ok := jsonValue(map[any]any{"a": []any{1, "x", true, nil}, 2: map[any]any{}}); !ok {
		t.Error("plain values take the round trip")
	}
	for _, v := range []any{1.5, uint64(1 << 63), "\xff", map[any]any{1.5: "x"}} {
		if _, ok := jsonValue(map[any]any{"a": []any{v}}); ok {
			t.Errorf("%#v does not take the round trip", v)
		}
	}
	// JSON has no infinity: an error either way.
	if _, err := decodeMap(Document{Line: 1, Text: "i: .inf\n"}); err == nil || !strings.Contains(err.Error(), "unsupported value: +Inf") {
		t.Errorf("infinity: %v", err)
	}
}

func TestReadPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("b.yaml", "# first\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\napiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: Secret, metadata: {name: s1}}\n  - {apiVersion: v1, kind: Secret, metadata: {name: s2}}\n")
	write("a/c.yml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
	write("d.json", `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}}`)
	write("notes.txt", "not: read")
	items, err := ReadPaths([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		rel, _ := filepath.Rel(dir, it.File)
		got = append(got, it.Object.GetKind()+"/"+it.Object.GetName()+"@"+rel+":"+strings.TrimPrefix(it.Source(), it.File+":"))
	}
	want := []string{"ConfigMap/c@a/c.yml:1", "ConfigMap/b@b.yaml:1", "Secret/s1@b.yaml:6", "Secret/s2@b.yaml:6", "ConfigMap/d@d.json:1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}

	bad := write("bad/bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n")
	if _, err := ReadPaths([]string{bad}); err == nil || err.Error() != bad+": line 5: document has no metadata.name\n    5 | apiVersion: v1\n    6 | kind: ConfigMap\n    7 | metadata: {}" {
		t.Errorf("a document without a name: %v", err)
	}
	if _, err := ReadPaths([]string{filepath.Join(dir, "a", "..", "nothing")}); err == nil {
		t.Error("a missing path is not an error")
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPaths([]string{empty}); err == nil || !strings.Contains(err.Error(), "no .yaml, .yml or .json files") {
		t.Errorf("an empty directory: %v", err)
	}
}

// The same stream with LF, CRLF and bare CR line endings gives the same
// documents, lines and error lines.
func TestLineEndings(t *testing.T) {
	const stream = "apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\n# c\napiVersion: v1\nkind: B\nmetadata: {name: b}\n---\nkind: [\n"
	for _, eol := range []string{"\n", "\r\n", "\r"} {
		s := strings.ReplaceAll(stream, "\n", eol)
		docs := Split(Normalize(s))
		if len(docs) != 3 || docs[0].Line != 1 || docs[1].Line != 5 || docs[2].Line != 10 {
			t.Errorf("%q: documents %+v", eol, docs)
		}
		_, err := ReadStream("f.yaml", s)
		if err == nil || !strings.Contains(err.Error(), "f.yaml: line 10") {
			t.Errorf("%q: error %v, want it on line 10", eol, err)
		}
	}
}
