package apply

import "testing"

// The apiserver writes some values back in another spelling; Contains must
// see them as unchanged, or every resync writes the object again.
func TestContainsServerSpellings(t *testing.T) {
	for _, tc := range []struct {
		name       string
		have, want any
		ok         bool
	}{
		{"decimal quantity in canonical form", "500m", "0.5", true},
		{"binary quantity in canonical form", "1Gi", "1024Mi", true},
		{"unquoted integer quantity", "10", int64(10), true},
		{"unquoted fractional quantity", "250m", float64(0.25), true},
		{"a different quantity is drift", "1", "0.5", false},
		{"a plain string is compared as is", "blue", "red", false},
		{"a non-quantity never matches an empty string", "", "red", false},
		{"an empty list dropped by omitempty", map[string]any{}, map[string]any{"ingress": []any{}}, true},
		{"an empty map dropped by omitempty", map[string]any{}, map[string]any{"data": map[string]any{}}, true},
		{"a non-empty list that is missing is drift", map[string]any{}, map[string]any{"ingress": []any{"x"}}, false},
	} {
		if got := Contains(tc.have, tc.want); got != tc.ok {
			t.Errorf("%s: Contains(%#v, %#v) = %v, want %v", tc.name, tc.have, tc.want, got, tc.ok)
		}
	}
}
