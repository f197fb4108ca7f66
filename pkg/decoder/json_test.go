package decoder

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// reference is what apimachinery makes of the same bytes.
func reference(data []byte) (map[string]any, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return u.Object, nil
}

func plain(data []byte) (map[string]any, error) {
	var m map[string]any
	err := utiljson.Unmarshal(data, &m)
	return m, err
}

var cases = []string{
	`{}`,
	`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","labels":{}},"data":{"k":"v"}}`,
	`{"a":1,"b":-1,"c":0,"d":-0,"e":1.5,"f":1e3,"g":1E-3,"h":-2.5e+10,"i":123456789012345678,"j":1234567890123456789,"k":9223372036854775807,"l":-9223372036854775808,"m":9223372036854775808,"n":12345678901234567890123}`,
	`{"s":"\"\\\/\b\f\n\r\t","u":"\u00e9\u4e2d\ud83d\ude00","lone":"\ud800x","lone2":"\udc00","pairbad":"\ud800\u0041","bad":"a` + "\xff" + `b","utf":"héllo 中文 😀"}`,
	`{"a":[],"b":[1,"x",null,true,false,{"c":[[]]}],"c":null}`,
	"{ \"a\" : [ 1 , 2 ] ,\n\t\"b\" : { } }\n",
	`{"dup":1,"dup":2}`,
	`{"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","metadata":{"name":"gw","namespace":"tenant-t0001-system","uid":"6f3c","resourceVersion":"12345","generation":1,"creationTimestamp":"2026-12-05T00:00:00Z","labels":{"addons.projectcapsule.dev/tenant":"t0001"},"annotations":{"addons.projectcapsule.dev/hash":"abc"},"managedFields":[{"manager":"tenantgen","operation":"Apply","apiVersion":"gateway.networking.k8s.io/v1","time":"2026-12-05T00:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:listeners":{"k:{\"name\":\"https-0\"}":{".":{},"f:port":{}}}}}}]},"spec":{"gatewayClassName":"eg","listeners":[{"name":"https-0","port":443,"protocol":"HTTPS","hostname":"r00.t0001.example.com","allowedRoutes":{"namespaces":{"from":"Same"}}}]}}`,
}

func TestObjectMatchesApimachinery(t *testing.T) {
	for _, c := range cases {
		want, err := reference([]byte(c))
		if err != nil {
			// Some cases are not Kubernetes objects; compare with the plain decode.
			want, err = plain([]byte(c))
			if err != nil {
				t.Fatalf("reference refused %s: %v", c, err)
			}
		}
		got, err := Object([]byte(c))
		if err != nil {
			t.Fatalf("Object(%s): %v", c, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Object(%s)\n got %#v\nwant %#v", c, got, want)
		}
	}
}

func TestObjectRefusesMalformed(t *testing.T) {
	for _, c := range []string{
		``, ` `, `[]`, `"x"`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1 "b":2}`, `{a:1}`,
		`{"a":[1,]}`, `{"a":[1 2]}`, `{"a":tru}`, `{"a":nul}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`,
		`{"a":-}`, `{"a":1e}`, `{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}", `{"a":"open}`,
		`{"a":1}x`, `{"a":1}{}`, `{"a":1e400}`,
	} {
		_, err := Object([]byte(c))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Object(%q) = %v, want a SyntaxError", c, err)
		}
		if _, rerr := plain([]byte(c)); rerr == nil {
			t.Errorf("encoding/json accepts %q: the cases disagree", c)
		}
	}
}

func TestObjectDepth(t *testing.T) {
	deep := `{"a":` + strings.Repeat(`[`, maxDepth+1) + strings.Repeat(`]`, maxDepth+1) + `}`
	if _, err := Object([]byte(deep)); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Fatalf("Object(deep) = %v, want nested too deeply", err)
	}
}

// FuzzObject: whatever encoding/json accepts as an object, Object decodes to
// the same values as apimachinery; what it refuses, Object refuses.
func FuzzObject(f *testing.F) {
	for _, c := range cases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr := plain(data)
		got, gerr := Object(data)
		if werr != nil || want == nil {
			if gerr == nil && werr != nil {
				t.Fatalf("Object accepted %q, encoding/json: %v", data, werr)
			}
			return
		}
		if gerr != nil {
			t.Fatalf("Object refused %q: %v", data, gerr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Object(%q)\n got %#v\nwant %#v", data, got, want)
		}
	})
}

func gatewayJSON(tb testing.TB) []byte {
	b, err := os.ReadFile("testdata/gateway.json")
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func BenchmarkObject(b *testing.B) {
	data := gatewayJSON(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Object(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkApimachinery(b *testing.B) {
	data := gatewayJSON(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := reference(data); err != nil {
			b.Fatal(err)
		}
	}
}
