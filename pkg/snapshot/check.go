package snapshot

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/convert"
	"github.com/projectcapsule/tenantgen/pkg/manifest"
)

// ourKinds are the kinds of tenantgen's API group. Any other kind in the
// group is a typo: taken as context, a misspelt GlobalTenantResource would
// silently render nothing.
var ourKinds = func() []string {
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	// The scheme also lists meta types (ListOptions, WatchEvent...) under the
	// group version; ours are those declared in the v1alpha1 package.
	pkg := reflect.TypeFor[v1alpha1.GlobalTenantResource]().PkgPath()
	var out []string
	for name, t := range s.KnownTypes(v1alpha1.GroupVersion) {
		if t.PkgPath() == pkg && !strings.HasSuffix(name, "List") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}()

// checkKind refuses, at the line of the offending field, an object of
// tenantgen's group with a kind or version tenantgen does not serve, and a
// Capsule GlobalTenantResource of another version than the one it reads.
func checkKind(it manifest.Item, gk schema.GroupKind) error {
	gv := it.Object.GroupVersionKind().GroupVersion()
	obj := fmt.Sprintf("%s %q", it.Object.GetKind(), it.Object.GetName())
	switch {
	case gk.Group == v1alpha1.Group && !slices.Contains(ourKinds, gk.Kind):
		return fmt.Errorf("%s:%d: %s: kind %q is not a kind of %s; its kinds are %s",
			it.File, it.FieldLine("kind"), obj, gk.Kind, gk.Group, strings.Join(ourKinds, ", "))
	case gk.Group == v1alpha1.Group && gv != v1alpha1.GroupVersion:
		return fmt.Errorf("%s:%d: %s: apiVersion %q is not served: %s serves version %s only",
			it.File, it.FieldLine("apiVersion"), obj, gv, gk.Group, v1alpha1.GroupVersion.Version)
	case gk == capsuleGTR && gv != convert.CapsuleGVK.GroupVersion():
		return fmt.Errorf("%s:%d: %s: apiVersion %q: tenantgen reads Capsule's GlobalTenantResource as %s",
			it.File, it.FieldLine("apiVersion"), obj, gv, convert.CapsuleGVK.GroupVersion())
	}
	return nil
}

// durationFields are the paths of the GlobalTenantResource fields that hold
// a duration, found by reflection so that a new one is checked too.
var durationFields = func() [][]string {
	var out [][]string
	var walk func(t reflect.Type, path []string)
	walk = func(t reflect.Type, path []string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t == reflect.TypeFor[metav1.Duration]() {
			out = append(out, slices.Clone(path))
			return
		}
		if t.Kind() != reflect.Struct || len(path) > 8 {
			return
		}
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case name == "-" || !f.IsExported():
			case name == "" && f.Anonymous:
				walk(f.Type, path) // inlined
			case name != "":
				walk(f.Type, append(path, name))
			}
		}
	}
	walk(reflect.TypeFor[v1alpha1.GlobalTenantResourceSpec](), []string{"spec"})
	return out
}()

// badDuration returns the first duration field that does not hold one, and
// what to write instead. Decoding says "cannot unmarshal number into Go
// struct field ... of type string", which does not tell a user that 30
// needs a unit.
func badDuration(obj map[string]any) (path, msg string) {
	for _, f := range durationFields {
		v, found, _ := unstructured.NestedFieldNoCopy(obj, f...)
		if !found || v == nil {
			continue
		}
		p := strings.Join(f, ".")
		switch v := v.(type) {
		case string:
			if _, err := time.ParseDuration(v); err != nil {
				return p, fmt.Sprintf("%q is not a duration; write e.g. 30s, 5m or 1h30m", v)
			}
		case int64, float64:
			return p, fmt.Sprintf("%v is not a duration; write e.g. %vs", v, v)
		default:
			return p, fmt.Sprintf("%v is not a duration; write e.g. 30s, 5m or 1h30m", v)
		}
	}
	return "", ""
}

// article names a JSON value kind as encoding/json reports it ("number",
// "string", "array"...) with an article, for a sentence.
func article(value string) string {
	switch {
	case value == "array":
		return "a list"
	case value == "object":
		return "an object"
	case strings.HasPrefix(value, "number"):
		return "a number"
	case value == "bool":
		return "true or false"
	}
	return "a " + value
}

// describe says what a Go type expects, in YAML terms.
func describe(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}
