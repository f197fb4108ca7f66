package manifest

import (
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
)

// FieldLine returns the stream line on which the field at path is written in
// a document whose text starts on stream line first: the line of its key for
// a map entry, of its item for a list entry. When the path leads nowhere (a
// field that is not written, a text that does not parse) it returns the line
// of the deepest part of the path that exists, at worst first. Decoders name
// a field by path (spec.resources[0].scop); a reader needs its line.
//
// Paths are as Kubernetes' strict decoding writes them: keys joined by dots,
// list indices in brackets; a key with dots may be quoted, ["a.b"].
func FieldLine(text string, first int, path string) int {
	// yaml.v3 keeps the line of every node, which the parsers used for
	// decoding (yaml.v2, JSON) do not; it parses only when an error needs a line.
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal([]byte(text), &doc); err != nil || len(doc.Content) == 0 {
		return first
	}
	node, line := doc.Content[0], 0
	for _, seg := range splitPath(path) {
		for node.Kind == yamlv3.AliasNode && node.Alias != nil {
			node = node.Alias
		}
		next := -1
		switch node.Kind {
		case yamlv3.MappingNode:
			for i := 0; i+1 < len(node.Content); i += 2 {
				if k := node.Content[i]; k.Value == seg.key && !seg.isIndex {
					line, next = k.Line, i+1
					break
				}
			}
		case yamlv3.SequenceNode:
			if seg.isIndex && seg.index < len(node.Content) {
				next = seg.index
				line = node.Content[next].Line
			}
		}
		if next < 0 {
			break
		}
		node = node.Content[next]
	}
	if line == 0 {
		return first
	}
	return first + line - 1
}

type pathSegment struct {
	key     string
	index   int
	isIndex bool
}

// splitPath cuts "a.b[2].c" and `a["x.y"]` into segments. It is lenient: a
// malformed path yields what could be read, since it only serves to find a line.
func splitPath(path string) []pathSegment {
	var segs []pathSegment
	for path != "" {
		switch path[0] {
		case '.':
			path = path[1:]
		case '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return segs
			}
			inner := path[1:end]
			if q, err := strconv.Unquote(inner); err == nil {
				segs = append(segs, pathSegment{key: q})
			} else if n, err := strconv.Atoi(inner); err == nil {
				segs = append(segs, pathSegment{index: n, isIndex: true})
			} else {
				segs = append(segs, pathSegment{key: inner})
			}
			path = path[end+1:]
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			segs = append(segs, pathSegment{key: path[:end]})
			path = path[end:]
		}
	}
	return segs
}
