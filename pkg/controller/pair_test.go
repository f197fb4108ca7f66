package controller

import (
	"reflect"
	"testing"
)

func TestKeepForeign(t *testing.T) {
	for _, c := range []struct {
		name               string
		theirs, ours, want map[string]string
	}{
		{"nothing of theirs", nil, map[string]string{"a": "1"}, map[string]string{"a": "1"}},
		{"theirs added", map[string]string{"team": "x"}, map[string]string{"a": "1"}, map[string]string{"a": "1", "team": "x"}},
		{"ours wins on a shared key", map[string]string{"a": "old"}, map[string]string{"a": "1"}, map[string]string{"a": "1"}},
		{"ours empty", map[string]string{"team": "x"}, nil, map[string]string{"team": "x"}},
	} {
		if got := keepForeign(c.theirs, c.ours); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: keepForeign(%v, %v) = %v, want %v", c.name, c.theirs, c.ours, got, c.want)
		}
	}
}
