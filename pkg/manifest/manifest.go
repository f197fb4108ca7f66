// Package manifest splits and decodes multi-document YAML while keeping track of
// line numbers, so that every error can point at the exact line of a file or of a
// rendered template.
package manifest

import (
	"fmt"
	"iter"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	yamlv2 "go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// Document is one YAML document of a stream.
type Document struct {
	// Line is the 1-based line of the stream on which the document's text starts.
	Line int
	// Text is the document without its separator line.
	Text string
}

// Split cuts a stream into documents. Documents that hold only blanks and
// comments are dropped. It scans the stream once and slices it, without
// copying: a render splits every generator's output.
func Split(stream string) []Document {
	var docs []Document
	for d := range Documents(stream) {
		docs = append(docs, d)
	}
	return docs
}

// Documents yields the documents of a stream one at a time, as Split lists
// them, so that a caller can stop (at a budget, an object limit) without the
// rest of the stream ever being cut up.
func Documents(stream string) iter.Seq[Document] {
	return func(yield func(Document) bool) {
		start, startLine := 0, 1 // where the current document begins: offset and line
		flush := func(end int) bool {
			if text := stream[start:end]; !blank(text) {
				return yield(Document{Line: startLine, Text: text})
			}
			return true
		}
		for off, line := 0, 1; off < len(stream); line++ {
			next := len(stream)
			if i := strings.IndexByte(stream[off:], '\n'); i >= 0 {
				next = off + i + 1
			}
			if separator(stream[off:next]) {
				if !flush(off) {
					return
				}
				start, startLine = next, line+1
			}
			off = next
		}
		flush(len(stream))
	}
}

// Normalize turns CRLF and bare CR line endings into LF. YAML reads all three
// as line breaks, but Split, text/template and excerpts count LF only, so
// without it a CR-only file reports every error on line 1.
func Normalize(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// separator reports whether a line is a document separator: "---", optionally
// followed by blanks and a comment. A "---" inside a block scalar is indented
// and so never matches; a value that contains "---" after a placeholder was
// substituted is never seen here because substitution happens on parsed values.
func separator(line string) bool {
	rest, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "---")
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " \t")
	return rest == "" || rest[0] == '#'
}

// blank reports whether text holds only blank and comment lines.
func blank(text string) bool {
	for text != "" {
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		if line = strings.TrimSpace(line); line != "" && line[0] != '#' {
			return false
		}
	}
	return true
}

// Error is a decoding error located in a stream.
type Error struct {
	// Line is the 1-based line of the stream the error refers to (0 = the whole document).
	Line int
	// Msg says what is wrong.
	Msg string
	// Excerpt quotes the offending text with line numbers.
	Excerpt string
}

func (e *Error) Error() string {
	where := ""
	if e.Line > 0 {
		where = "line " + strconv.Itoa(e.Line) + ": "
	}
	if e.Excerpt == "" {
		return where + e.Msg
	}
	return where + e.Msg + "\n" + e.Excerpt
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// Decode parses one document into an object. It requires apiVersion, kind and
// metadata.name; errors carry stream line numbers and an excerpt.
func Decode(doc Document) (*unstructured.Unstructured, error) {
	obj, err := decodeMap(doc)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: obj}
	return u, checkIdentity(doc, u)
}

// checkIdentity requires what every object needs to be applied.
func checkIdentity(doc Document, u *unstructured.Unstructured) error {
	if missing := MissingIdentity(u); missing != "" {
		return &Error{Line: doc.Line, Msg: "document has no " + missing, Excerpt: Excerpt(doc.Text, doc.Line, 0)}
	}
	return nil
}

// MissingIdentity lists what an object lacks to be applied: apiVersion, kind
// and metadata.name, each a non-empty string ("" when nothing is missing).
func MissingIdentity(u *unstructured.Unstructured) string {
	var missing []string
	if u.GetAPIVersion() == "" {
		missing = append(missing, "apiVersion")
	}
	if u.GetKind() == "" {
		missing = append(missing, "kind")
	}
	if u.GetName() == "" {
		missing = append(missing, "metadata.name")
	}
	return strings.Join(missing, ", ")
}

func decodeMap(doc Document) (map[string]any, error) {
	// Strict: a duplicated key in generated YAML is almost always a template bug
	// (two "annotations:" blocks) that would otherwise lose data silently.
	var y any
	if err := yamlv2.UnmarshalStrict([]byte(doc.Text), &y); err != nil {
		return nil, yamlError(doc, err)
	}
	v, ok := jsonValue(y)
	if !ok {
		// A value that JSON would change: take the road through JSON text, so
		// the object is exactly what the apiserver would store.
		js, err := yaml.YAMLToJSONStrict([]byte(doc.Text))
		if err != nil {
			return nil, yamlError(doc, err)
		}
		// utiljson turns whole numbers into int64 as the apiserver does, where
		// encoding/json would give float64.
		if err := utiljson.Unmarshal(js, &v); err != nil {
			return nil, &Error{Line: doc.Line, Msg: "invalid YAML: " + err.Error(), Excerpt: Excerpt(doc.Text, doc.Line, 0)}
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Line: doc.Line, Msg: fmt.Sprintf("document is a %s, not an object", kindOf(v)), Excerpt: Excerpt(doc.Text, doc.Line, 0)}
	}
	return m, nil
}

// yamlError locates a YAML parser error in the stream.
func yamlError(doc Document, err error) error {
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		line = doc.Line + n - 1
	}
	// The YAML parser counts lines from the document's start; say them as
	// lines of the stream, as Line and the excerpt do.
	msg := yamlLine.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
		return "line " + strconv.Itoa(doc.Line+n-1)
	})
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	return &Error{Line: line, Msg: "invalid YAML: " + msg, Excerpt: Excerpt(doc.Text, doc.Line, line)}
}

// jsonValue converts what the YAML parser returns into what decoding the
// same document as JSON with utiljson returns (string keys, int64 numbers),
// without the round trip through JSON text (sigs.k8s.io/yaml's way), which
// took a fifth of the render's CPU and over a quarter of its allocations. It
// reports false for the values that round
// trip could change, which then take it: floats (JSON turns 2.0 into the
// integer 2), integers beyond int64, strings that are not valid UTF-8, keys of
// other types or that collide once made strings.
func jsonValue(y any) (any, bool) {
	switch t := y.(type) {
	case nil, bool, int64:
		return t, true
	case int:
		return int64(t), true
	case string:
		return t, utf8.ValidString(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			v, ok := jsonValue(e)
			if !ok {
				return nil, false
			}
			out[i] = v
		}
		return out, true
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			var key string
			switch k := k.(type) {
			case string:
				if !utf8.ValidString(k) {
					return nil, false
				}
				key = k
			case int:
				key = strconv.Itoa(k)
			case int64:
				key = strconv.FormatInt(k, 10)
			case bool:
				key = strconv.FormatBool(k)
			default:
				return nil, false
			}
			if _, dup := out[key]; dup {
				return nil, false
			}
			v, ok := jsonValue(e)
			if !ok {
				return nil, false
			}
			out[key] = v
		}
		return out, true
	}
	return nil, false
}

func kindOf(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case nil:
		return "null"
	default:
		return "scalar"
	}
}

// DecodeAll splits a stream and decodes every document.
func DecodeAll(stream string) ([]*unstructured.Unstructured, []int, error) {
	docs := Split(Normalize(stream))
	objs := make([]*unstructured.Unstructured, 0, len(docs))
	lines := make([]int, 0, len(docs))
	for _, d := range docs {
		u, err := Decode(d)
		if err != nil {
			return nil, nil, err
		}
		objs = append(objs, u)
		lines = append(lines, d.Line)
	}
	return objs, lines, nil
}

// excerptContext is how many lines around the offending one are quoted.
const excerptContext = 4

// maxExcerptLines bounds a quote of a whole document.
const maxExcerptLines = 30

// Excerpt quotes text (which starts on stream line first) with line numbers. When
// mark > 0 it quotes the lines around stream line mark and points at it;
// otherwise it quotes the start of the text.
func Excerpt(text string, first, mark int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	from, to := 0, len(lines)
	if mark > 0 {
		i := mark - first
		from, to = max(0, i-excerptContext), min(len(lines), i+excerptContext+1)
	} else if to > maxExcerptLines {
		to = maxExcerptLines
	}
	width := len(strconv.Itoa(first + to - 1))
	var b strings.Builder
	for i := from; i < to; i++ {
		pointer := "  "
		if first+i == mark {
			pointer = "> "
		}
		fmt.Fprintf(&b, "  %s%*d | %s\n", pointer, width, first+i, lines[i])
	}
	if to < len(lines) && mark == 0 {
		fmt.Fprintf(&b, "    %*s | … (%d more lines)\n", width, "", len(lines)-to)
	}
	return strings.TrimRight(b.String(), "\n")
}
