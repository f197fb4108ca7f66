// Package decoder decodes the apiserver's JSON watch streams in one pass.
// The controller receives every object it writes again as a watch event,
// tens of thousands of them while a large fleet converges; client-go scans
// each event four times (the event's kind, the event, the object's kind,
// the object) and builds unstructured objects by reflection, which made
// decoding 14-19 % of the controller's CPU. Unstructured objects are built
// by this package's parser, with the values of apimachinery's unstructured
// decoding: maps, slices, strings, bools, nil, int64 for integers that fit
// and float64 for other numbers (see FuzzObject). Typed objects are decoded
// straight into their Go type (see watch.go). The stream is split into
// events by following strings and brackets to each object's end (see
// frame.go), not by encoding/json's validating Decoder.
package decoder

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Object decodes one JSON object.
func Object(data []byte) (map[string]any, error) {
	p := parser{data: data}
	p.space()
	if p.i >= len(p.data) || p.data[p.i] != '{' {
		return nil, p.fail("expected an object")
	}
	m, err := p.object()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.data) {
		return nil, p.fail("data after the object")
	}
	return m, nil
}

// parser is a recursive descent over data; i is the next byte.
type parser struct {
	data []byte
	i    int
	// depth guards the stack against hostile nesting, as encoding/json does.
	depth int
}

const maxDepth = 10000

// SyntaxError is malformed JSON at Offset.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

func (p *parser) fail(msg string) error { return &SyntaxError{Offset: p.i, Msg: msg} }

func (p *parser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value() (any, error) {
	p.space()
	if p.i >= len(p.data) {
		return nil, p.fail("unexpected end")
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.string()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return nil, p.fail(fmt.Sprintf("unexpected %q", c))
	}
}

func (p *parser) literal(word string) error {
	if len(p.data)-p.i < len(word) || string(p.data[p.i:p.i+len(word)]) != word {
		return p.fail("expected " + word)
	}
	p.i += len(word)
	return nil
}

func (p *parser) object() (map[string]any, error) {
	if p.depth++; p.depth > maxDepth {
		return nil, p.fail("nested too deeply")
	}
	defer func() { p.depth-- }()
	m := map[string]any{}
	err := p.members(func(k string) error {
		v, err := p.value()
		m[k] = v // a repeated key: the last one wins, as in encoding/json
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// members reads the object at p.i ('{'), calling member with each key and
// p.i at its value, which member reads (or skips).
func (p *parser) members(member func(key string) error) error {
	p.i++ // '{'
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return nil
	}
	for {
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return p.fail("expected a key")
		}
		k, err := p.key()
		if err != nil {
			return err
		}
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return p.fail("expected ':'")
		}
		p.i++
		if err := member(k); err != nil {
			return err
		}
		p.space()
		if p.i >= len(p.data) {
			return p.fail("unexpected end in an object")
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.fail("expected ',' or '}'")
		}
	}
}

func (p *parser) array() ([]any, error) {
	if p.depth++; p.depth > maxDepth {
		return nil, p.fail("nested too deeply")
	}
	defer func() { p.depth-- }()
	p.i++ // '['
	a := []any{}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.space()
		if p.i >= len(p.data) {
			return nil, p.fail("unexpected end in an array")
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return a, nil
		default:
			return nil, p.fail("expected ',' or ']'")
		}
	}
}

// key reads an object's key: the keys every Kubernetes object repeats come
// from a fixed table instead of a new string each (fewer allocations for
// the collector to trace in caches of tens of thousands of objects).
func (p *parser) key() (string, error) {
	end := p.i + 1
	for end < len(p.data) && p.data[end] != '"' && p.data[end] != '\\' && p.data[end] >= ' ' && p.data[end] < utf8.RuneSelf {
		end++
	}
	if end < len(p.data) && p.data[end] == '"' {
		if k, ok := commonKeys[string(p.data[p.i+1:end])]; ok {
			p.i = end + 1
			return k, nil
		}
	}
	return p.string()
}

var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"apiVersion", "kind", "metadata", "name", "namespace", "uid", "resourceVersion", "generation",
		"creationTimestamp", "deletionTimestamp", "labels", "annotations", "ownerReferences", "finalizers",
		"managedFields", "manager", "operation", "time", "fieldsType", "fieldsV1", "subresource",
		"controller", "blockOwnerDeletion", "spec", "status", "conditions", "type", "reason", "message",
		"lastTransitionTime", "observedGeneration", "data", "items", "object", "group", "port", "protocol",
		"hostname", "hostnames", "listeners", "allowedRoutes", "namespaces", "from", "tls", "mode",
		"certificateRefs", "parentRefs", "rules", "backendRefs", "matches", "path", "value", "sectionName",
		".", "f:metadata", "f:labels", "f:annotations", "f:spec", "f:status", "f:name", "f:namespace",
	} {
		m[k] = k
	}
	return m
}()

// string reads a string at p.i (the opening quote). Strings without escapes
// or bytes outside ASCII, nearly all of a Kubernetes object, are one copy.
func (p *parser) string() (string, error) {
	p.i++ // '"'
	start := p.i
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			s := string(p.data[start:p.i])
			p.i++
			return s, nil
		case c == '\\' || c >= utf8.RuneSelf:
			return p.slowString(start)
		case c < ' ':
			return "", p.fail("control character in a string")
		}
		p.i++
	}
	return "", p.fail("unterminated string")
}

// slowString decodes escapes and checks UTF-8 the way encoding/json does:
// invalid bytes and lone surrogates become U+FFFD.
func (p *parser) slowString(start int) (string, error) {
	b := make([]byte, 0, p.i-start+16)
	b = append(b, p.data[start:p.i]...)
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b), nil
		case c < ' ':
			return "", p.fail("control character in a string")
		case c == '\\':
			if p.i+1 >= len(p.data) {
				return "", p.fail("unterminated escape")
			}
			e := p.data[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.fail("invalid \\u escape")
				}
				if utf16.IsSurrogate(r) {
					// A pair makes one rune; anything else is a lone surrogate.
					r2 := rune(-1)
					if p.i+1 < len(p.data) && p.data[p.i] == '\\' && p.data[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						if v, ok := p.hex4(); ok {
							r2 = v
						} else {
							p.i = save
						}
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							b = utf8.AppendRune(b, dec)
							continue
						}
						p.i = save
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", p.fail("invalid escape")
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.data[p.i:])
			if r == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, p.data[p.i:p.i+size]...)
			}
			p.i += size
		}
	}
	return "", p.fail("unterminated string")
}

func (p *parser) hex4() (rune, bool) {
	if len(p.data)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// number reads a JSON number: int64 when it is an integer that fits (what
// apimachinery's PreserveInts decoding gives), else float64.
func (p *parser) number() (any, error) {
	start := p.i
	if p.data[p.i] == '-' {
		p.i++
	}
	digits := p.i
	switch {
	case p.i < len(p.data) && p.data[p.i] == '0':
		p.i++
	case p.i < len(p.data) && p.data[p.i] >= '1' && p.data[p.i] <= '9':
		for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
			p.i++
		}
	default:
		return nil, p.fail("invalid number")
	}
	integer := true
	if p.i < len(p.data) && p.data[p.i] == '.' {
		integer = false
		p.i++
		if !p.digits() {
			return nil, p.fail("invalid number")
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		integer = false
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if !p.digits() {
			return nil, p.fail("invalid number")
		}
	}
	if integer && p.i-digits <= 18 {
		// At most 18 digits cannot overflow int64.
		var n int64
		for _, c := range p.data[digits:p.i] {
			n = n*10 + int64(c-'0')
		}
		if digits > start {
			n = -n
		}
		return n, nil
	}
	text := string(p.data[start:p.i])
	if integer {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		// The syntax was checked above: this is a number beyond float64's
		// range, which encoding/json refuses too.
		return nil, p.fail("number out of range")
	}
	return f, nil
}

func (p *parser) digits() bool {
	start := p.i
	for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

// skip moves past one value without building it. It checks only what it
// needs to find the value's end; the bytes it skips are decoded by
// someone else (see EventSpan) or not at all.
func (p *parser) skip() error {
	p.space()
	if p.i >= len(p.data) {
		return p.fail("unexpected end")
	}
	switch p.data[p.i] {
	case '"':
		return p.skipString()
	case '{', '[':
		depth := 0
		for p.i < len(p.data) {
			switch p.data[p.i] {
			case '"':
				if err := p.skipString(); err != nil {
					return err
				}
				continue
			case '{', '[':
				if depth++; depth > maxDepth {
					return p.fail("nested too deeply")
				}
			case '}', ']':
				if depth--; depth == 0 {
					p.i++
					return nil
				}
			}
			p.i++
		}
		return p.fail("unexpected end")
	default: // a number or a literal
		start := p.i
		for p.i < len(p.data) {
			switch p.data[p.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if p.i == start {
					return p.fail("expected a value")
				}
				return nil
			}
			p.i++
		}
		return nil
	}
}

func (p *parser) skipString() error {
	p.i++ // '"'
	start := p.i
	for {
		j := bytes.IndexByte(p.data[p.i:], '"')
		if j < 0 {
			p.i = len(p.data)
			return p.fail("unterminated string")
		}
		p.i += j + 1
		// The quote ends the string unless an odd number of backslashes
		// escapes it.
		k := p.i - 2
		for k >= start && p.data[k] == '\\' {
			k--
		}
		if (p.i-2-k)%2 == 0 {
			return nil
		}
	}
}
