// Package manifest splits and decodes multi-document YAML while keeping track of
// line numbers, so that every error can point at the exact line of a file or of a
// rendered template.
package manifest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

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

// separator matches a document separator line: "---", optionally followed by
// blanks and a comment. A "---" inside a block scalar is indented and so never
// matches; a value that contains "---" after a placeholder was substituted is
// never seen here because substitution happens on parsed values.
var separator = regexp.MustCompile(`^---[ \t]*(#.*)?$`)

// Split cuts a stream into documents. Documents that hold only blanks and
// comments are dropped.
func Split(stream string) []Document {
	var docs []Document
	lines := strings.SplitAfter(stream, "\n")
	start := 0
	flush := func(end int) {
		text := strings.Join(lines[start:end], "")
		if !blank(text) {
			docs = append(docs, Document{Line: start + 1, Text: text})
		}
	}
	for i, l := range lines {
		if separator.MatchString(strings.TrimRight(l, "\r\n")) {
			flush(i)
			start = i + 1
		}
	}
	if start < len(lines) {
		flush(len(lines))
	}
	return docs
}

func blank(text string) bool {
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
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
	if len(missing) > 0 {
		return &Error{Line: doc.Line, Msg: "document has no " + strings.Join(missing, ", "), Excerpt: Excerpt(doc.Text, doc.Line, 0)}
	}
	return nil
}

func decodeMap(doc Document) (map[string]any, error) {
	// Strict: a duplicated key in generated YAML is almost always a template bug
	// (two "annotations:" blocks) that would otherwise lose data silently.
	js, err := yaml.YAMLToJSONStrict([]byte(doc.Text))
	if err != nil {
		line := 0
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			line = doc.Line + n - 1
		}
		msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
		return nil, &Error{Line: line, Msg: "invalid YAML: " + msg, Excerpt: Excerpt(doc.Text, doc.Line, line)}
	}
	var v any
	// utiljson turns whole numbers into int64 as the apiserver does, where
	// encoding/json would give float64.
	if err := utiljson.Unmarshal(js, &v); err != nil {
		return nil, &Error{Line: doc.Line, Msg: "invalid YAML: " + err.Error(), Excerpt: Excerpt(doc.Text, doc.Line, 0)}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Line: doc.Line, Msg: fmt.Sprintf("document is a %s, not an object", kindOf(v)), Excerpt: Excerpt(doc.Text, doc.Line, 0)}
	}
	return m, nil
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
	docs := Split(stream)
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
	width := len(strconv.Itoa(first + to))
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
