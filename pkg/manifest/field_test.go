package manifest

import "testing"

func TestFieldLine(t *testing.T) {
	// The document starts on line 10 of its file.
	text := `# a comment
apiVersion: v1
kind: X
metadata:
  name: x
  labels: {"a.b": c}
spec:
  scop: Tenant
  resources:
    - rawItems: []
    - generators:
        - template: |
            body
  anchor: &a {inner: 1}
  alias: *a
`
	for _, tc := range []struct {
		path string
		want int
	}{
		{"kind", 12},
		{"spec.scop", 17},
		{"spec.resources[1]", 20},
		{"spec.resources[1].generators[0].template", 21},
		{`metadata.labels["a.b"]`, 15},
		{"spec.alias.inner", 23},                   // through an alias, where its anchor writes it
		{"spec.resources[7].template", 18},         // no such item: its list
		{"spec.resources[0].rawItems[0].kind", 19}, // the deepest that exists
		{"nothing", 10},
		{"", 10},
	} {
		if got := FieldLine(text, 10, tc.path); got != tc.want {
			t.Errorf("FieldLine(%q) = %d, want %d", tc.path, got, tc.want)
		}
	}
	if got := FieldLine("a: [unclosed", 3, "a"); got != 3 {
		t.Errorf("unparsable text: %d, want 3", got)
	}
}

func TestItemFieldLine(t *testing.T) {
	items, err := ReadStream("l.yaml", "---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 {
		t.Fatalf("%d items", len(items))
	}
	if got := items[1].FieldLine("metadata.name"); got != 11 {
		t.Errorf("items[1] metadata.name on line %d, want 11", got)
	}
	if got := items[0].FieldLine("kind"); got != 6 {
		t.Errorf("items[0] kind on line %d, want 6", got)
	}
}
