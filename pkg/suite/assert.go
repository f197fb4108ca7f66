package suite

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/projectcapsule/tenantgen/pkg/render"
)

// Assertion checks the rendered objects of one kind: how many there are
// (count, absent) or the value of one field of the single object selected
// (path with equals or length).
type Assertion struct {
	// Selection: kind is required; the others narrow it.
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion,omitempty"`
	Name       string `json:"name,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	Tenant     string `json:"tenant,omitempty"`

	// Count is the number of selected objects.
	Count *int `json:"count,omitempty"`
	// Absent requires that nothing is selected.
	Absent bool `json:"absent,omitempty"`
	// Path names a field: spec.listeners[1].hostname, metadata.labels["app.kubernetes.io/name"].
	Path string `json:"path,omitempty"`
	// Equals is the value the field must have (any YAML value; null requires the field to be absent or null).
	Equals json.RawMessage `json:"equals,omitempty"`
	// Length is the number of items of a list or map field, or of characters of a string.
	Length *int `json:"length,omitempty"`
}

func (a *Assertion) validate() error {
	if a.Kind == "" {
		return errors.New("kind is required")
	}
	checks := 0
	if a.Count != nil {
		checks++
	}
	if a.Absent {
		checks++
	}
	if a.Path != "" {
		checks++
		if (a.Equals == nil) == (a.Length == nil) {
			return errors.New("path needs exactly one of equals or length")
		}
		if _, err := parsePath(a.Path); err != nil {
			return err
		}
	} else if a.Equals != nil || a.Length != nil {
		return errors.New("equals and length need a path")
	}
	if checks != 1 {
		return errors.New("give exactly one of count, absent or path")
	}
	return nil
}

func (a *Assertion) selector() string {
	s := a.Kind
	if a.Namespace != "" || a.Name != "" {
		s += " " + strings.TrimPrefix(a.Namespace+"/"+a.Name, "/")
	}
	if a.Tenant != "" {
		s += " (tenant " + a.Tenant + ")"
	}
	return s
}

func (a *Assertion) selects(o render.Object) bool {
	return o.GetKind() == a.Kind &&
		(a.APIVersion == "" || o.GetAPIVersion() == a.APIVersion) &&
		(a.Name == "" || o.GetName() == a.Name) &&
		(a.Namespace == "" || o.GetNamespace() == a.Namespace) &&
		(a.Tenant == "" || o.Tenant == a.Tenant)
}

// check returns "" when the assertion holds, else what is wrong.
func (a *Assertion) check(objs []render.Object) string {
	var sel []render.Object
	for _, o := range objs {
		if a.selects(o) {
			sel = append(sel, o)
		}
	}
	switch {
	case a.Count != nil:
		if len(sel) != *a.Count {
			return fmt.Sprintf("%s: %d objects, want %d%s", a.selector(), len(sel), *a.Count, refs(sel))
		}
		return ""
	case a.Absent:
		if len(sel) > 0 {
			return fmt.Sprintf("%s: want none, got%s", a.selector(), refs(sel))
		}
		return ""
	}
	if len(sel) != 1 {
		return fmt.Sprintf("%s: %d objects selected, a path assertion needs exactly one (narrow it with name, namespace or tenant)%s", a.selector(), len(sel), refs(sel))
	}
	segs, _ := parsePath(a.Path)
	got, found := lookup(sel[0].Object, segs)
	if a.Length != nil {
		n := -1
		switch v := got.(type) {
		case []any:
			n = len(v)
		case map[string]any:
			n = len(v)
		case string:
			n = len(v)
		}
		if !found || n != *a.Length {
			return fmt.Sprintf("%s: %s has length %s, want %d", sel[0].Ref(), a.Path, lengthOf(found, n), *a.Length)
		}
		return ""
	}
	var want any
	if err := utiljson.Unmarshal(a.Equals, &want); err != nil {
		return fmt.Sprintf("equals: %v", err)
	}
	if !found && want == nil {
		return ""
	}
	if !found {
		return fmt.Sprintf("%s: %s is absent, want %s", sel[0].Ref(), a.Path, show(want))
	}
	if !reflect.DeepEqual(normalize(got), want) {
		return fmt.Sprintf("%s: %s is %s, want %s", sel[0].Ref(), a.Path, show(got), show(want))
	}
	return ""
}

func lengthOf(found bool, n int) string {
	if !found {
		return "(absent)"
	}
	if n < 0 {
		return "(not a list, map or string)"
	}
	return strconv.Itoa(n)
}

func refs(objs []render.Object) string {
	if len(objs) == 0 {
		return ""
	}
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.Ref()
	}
	return ": " + strings.Join(names, ", ")
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// normalize gives a value the types a JSON decode gives (int64 for whole numbers).
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := utiljson.Unmarshal(b, &out); err != nil {
		return v
	}
	return out
}

// segment is a map key or a list index.
type segment struct {
	key   string
	index int // -1 for a key
}

// parsePath parses a.b[2].c["d.e"]['f'].
func parsePath(p string) ([]segment, error) {
	var segs []segment
	i := 0
	for i < len(p) {
		switch p[i] {
		case '.':
			i++
		case '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("path %q: unclosed [", p)
			}
			inner := p[i+1 : i+end]
			i += end + 1
			if len(inner) >= 2 && (inner[0] == '"' || inner[0] == '\'') && inner[len(inner)-1] == inner[0] {
				segs = append(segs, segment{key: inner[1 : len(inner)-1], index: -1})
				continue
			}
			n, err := strconv.Atoi(inner)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("path %q: [%s] is neither an index nor a quoted key", p, inner)
			}
			segs = append(segs, segment{index: n})
		default:
			end := strings.IndexAny(p[i:], ".[")
			if end < 0 {
				end = len(p) - i
			}
			segs = append(segs, segment{key: p[i : i+end], index: -1})
			i += end
		}
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("path %q is empty", p)
	}
	return segs, nil
}

func lookup(v any, segs []segment) (any, bool) {
	for _, s := range segs {
		if s.index >= 0 {
			l, ok := v.([]any)
			if !ok || s.index >= len(l) {
				return nil, false
			}
			v = l[s.index]
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[s.key]; !ok {
			return nil, false
		}
	}
	return v, true
}
