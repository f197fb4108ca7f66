package manifest

import (
	"strings"
	"testing"
)

// FuzzDecode splits and decodes any stream: it never panics; Split and
// Documents agree; every document starts on a line of the stream and its
// text is where that line says; an error's line lies within its document;
// and LF, CRLF and CR spellings of a stream give the same documents, lines
// and errors.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
		"---\napiVersion: v1\nkind: A\nmetadata: {name: a}\n---\n# comment\n---\napiVersion: v1\nkind: B\nmetadata: {name: b}\n",
		"apiVersion: v1\r\nkind: A\r\nmetadata: {name: a}\r\n---\r\nkind: [\r\n",
		"apiVersion: v1\rkind: A\rmetadata:\r  name: *x\r",
		"a: &a [*a, *a]\n",
		"a: 1\na: 2\n",
		"- 1\n- 2\n",
		"apiVersion: v1\nkind: A\nmetadata: {name: a}\nspec: {x: 2.0, y: 1e400, \"1\": a, 1: b}\n",
		"--- |\n  text\n--- # c\n",
		"\xff: 1\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stream string) {
		if len(stream) > 4<<10 { // larger inputs find nothing new and slow the fuzzer down
			return
		}
		norm := Normalize(stream)
		if strings.Contains(norm, "\r") {
			t.Fatalf("Normalize left a CR in %q", norm)
		}
		lines := strings.Split(norm, "\n")
		docs := Split(norm)
		i := 0
		for d := range Documents(norm) {
			if i >= len(docs) || docs[i] != d {
				t.Fatalf("Documents and Split disagree at document %d", i)
			}
			i++
		}
		if i != len(docs) {
			t.Fatalf("Documents yielded %d documents, Split %d", i, len(docs))
		}
		for _, d := range docs {
			if d.Line < 1 || d.Line > len(lines) {
				t.Fatalf("document line %d outside 1..%d", d.Line, len(lines))
			}
			if first, _, _ := strings.Cut(d.Text, "\n"); first != lines[d.Line-1] {
				t.Fatalf("document at line %d starts with %q, the line is %q", d.Line, first, lines[d.Line-1])
			}
			u, err := Decode(d)
			if err != nil {
				e, ok := err.(*Error)
				if !ok {
					t.Fatalf("Decode returned %T %v", err, err)
				}
				last := d.Line + strings.Count(d.Text, "\n")
				if e.Line != 0 && (e.Line < d.Line || e.Line > last+1) {
					t.Fatalf("error line %d outside the document's lines %d..%d: %v", e.Line, d.Line, last, err)
				}
				continue
			}
			if MissingIdentity(u) != "" {
				t.Fatal("decoded an object without identity")
			}
		}
		// The same stream with other line endings: same documents and errors.
		for _, eol := range []string{"\r\n", "\r"} {
			other := strings.ReplaceAll(norm, "\n", eol)
			odocs := Split(Normalize(other))
			if len(odocs) != len(docs) {
				t.Fatalf("%q line endings: %d documents, LF: %d", eol, len(odocs), len(docs))
			}
			for j := range docs {
				if odocs[j] != docs[j] {
					t.Fatalf("%q line endings: document %d differs", eol, j)
				}
			}
			_, _, err1 := DecodeAll(norm)
			_, _, err2 := DecodeAll(other)
			if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
				t.Fatalf("%q line endings: error %v, LF: %v", eol, err2, err1)
			}
		}
	})
}
