package decoder

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

var gatewayGVK = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "Gateway"}

func gatewayFrame(typ, name, rv string) string {
	return fmt.Sprintf(`{"type":%q,"object":{"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","metadata":{"name":%q,"namespace":"tenant-a-system","resourceVersion":%q,"labels":{"addons.projectcapsule.dev/globaltenantresource":"g"}},"spec":{"gatewayClassName":"eg","listeners":[{"name":"http","port":80,"protocol":"HTTP"}]}}}`, typ, name, rv)
}

// server answers watches of gateways with the frames of each request in
// turn (one slice per request) and records the queries.
type server struct {
	path    string // default: gateways
	mu      sync.Mutex
	queries []url.Values
	streams [][]string
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.queries = append(s.queries, r.URL.Query())
	var frames []string
	if len(s.streams) > 0 {
		frames, s.streams = s.streams[0], s.streams[1:]
	}
	s.mu.Unlock()
	path := s.path
	if path == "" {
		path = "/apis/gateway.networking.k8s.io/v1/gateways"
	}
	if r.URL.Path != path || r.URL.Query().Get("watch") != "true" {
		http.Error(w, "unexpected "+r.URL.String(), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	for _, f := range frames {
		_, _ = w.Write([]byte(f + "\n"))
		w.(http.Flusher).Flush()
	}
	if len(frames) > 0 && !strings.Contains(frames[len(frames)-1], `"ERROR"`) {
		<-r.Context().Done() // an open watch
	}
}

func (s *server) query(i int) url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.queries) {
		return nil
	}
	return s.queries[i]
}

func mapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.AddSpecific(gatewayGVK, gatewayGVK.GroupVersion().WithResource("gateways"), gatewayGVK.GroupVersion().WithResource("gateway"), meta.RESTScopeNamespace)
	inv := v1alpha1.GroupVersion.WithKind("TenantInventory")
	m.AddSpecific(inv, v1alpha1.GroupVersion.WithResource("tenantinventories"), v1alpha1.GroupVersion.WithResource("tenantinventory"), meta.RESTScopeRoot)
	return m
}

func gateway() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gatewayGVK)
	return u
}

func next(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("the watch ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event in 10s")
	}
	return watch.Event{}
}

func TestWatcherDecodesEventsLikeClientGo(t *testing.T) {
	srv := &server{streams: [][]string{{
		gatewayFrame("ADDED", "gw", "10"),
		gatewayFrame("MODIFIED", "gw", "11"),
		`{"type":"BOOKMARK","object":{"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","metadata":{"resourceVersion":"12"}}}`,
		gatewayFrame("DELETED", "gw", "13"),
		`{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (10)","reason":"Expired","code":410}}`,
	}}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	sel := labels.SelectorFromSet(labels.Set{"addons.projectcapsule.dev/globaltenantresource": "g"})
	w, err := watcher(Source{Config: &rest.Config{Host: ts.URL}, HTTPClient: ts.Client(), Mapper: mapper()}, gateway(), sel)
	if err != nil {
		t.Fatal(err)
	}
	wi, err := w(context.Background(), metav1.ListOptions{ResourceVersion: "9", AllowWatchBookmarks: true, TimeoutSeconds: new(int64(30))})
	if err != nil {
		t.Fatal(err)
	}
	defer wi.Stop()

	for i, want := range []struct {
		typ watch.EventType
		rv  string
	}{{watch.Added, "10"}, {watch.Modified, "11"}, {watch.Bookmark, "12"}, {watch.Deleted, "13"}} {
		ev := next(t, wi)
		if ev.Type != want.typ {
			t.Fatalf("event %d: type %s, want %s", i, ev.Type, want.typ)
		}
		u, ok := ev.Object.(*unstructured.Unstructured)
		if !ok {
			t.Fatalf("event %d: object %T, want *unstructured.Unstructured", i, ev.Object)
		}
		if u.GetResourceVersion() != want.rv || u.GroupVersionKind() != gatewayGVK {
			t.Fatalf("event %d: %s resourceVersion %q, want Gateway %q", i, u.GroupVersionKind(), u.GetResourceVersion(), want.rv)
		}
		if want.typ != watch.Bookmark {
			frame := gatewayFrame(string(want.typ), "gw", want.rv)
			_, ref, err := Event([]byte(frame))
			if err != nil {
				t.Fatal(err)
			}
			apim := &unstructured.Unstructured{}
			if err := apim.UnmarshalJSON([]byte(frame[strings.Index(frame, `"object":`)+9 : len(frame)-1])); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(u.Object, apim.Object) || !reflect.DeepEqual(ref, apim.Object) {
				t.Fatalf("event %d decoded to\n%#v\nclient-go's decoding gives\n%#v", i, u.Object, apim.Object)
			}
		}
	}
	// An ERROR event is what the reflector turns into the API error (here:
	// 410 Gone, which makes it list again).
	ev := next(t, wi)
	if ev.Type != watch.Error {
		t.Fatalf("last event %s, want ERROR", ev.Type)
	}
	if err := apierrors.FromObject(ev.Object); !apierrors.IsResourceExpired(err) {
		t.Fatalf("ERROR event: %v, want the 410 Expired status", err)
	}

	q := srv.query(0)
	for k, want := range map[string]string{
		"watch": "true", "resourceVersion": "9", "allowWatchBookmarks": "true", "timeoutSeconds": "30",
		"labelSelector": "addons.projectcapsule.dev/globaltenantresource=g",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("query %s=%q, want %q (query %v)", k, got, want, q)
		}
	}
}

// An object without kind is refused, as client-go's decoding refuses it.
func TestWatcherStopsOnObjectWithoutKind(t *testing.T) {
	srv := &server{streams: [][]string{{gatewayFrame("ADDED", "gw", "10"), `{"type":"ADDED","object":{"apiVersion":"v1","metadata":{"name":"x"}}}`}}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	w, err := watcher(Source{Config: &rest.Config{Host: ts.URL}, HTTPClient: ts.Client(), Mapper: mapper()}, gateway(), nil)
	if err != nil {
		t.Fatal(err)
	}
	wi, err := w(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer wi.Stop()
	if ev := next(t, wi); ev.Type != watch.Added {
		t.Fatalf("first event %s", ev.Type)
	}
	// client-go reports a stream it cannot decode as an ERROR event and ends the watch.
	ev := next(t, wi)
	if ev.Type != watch.Error {
		t.Fatalf("after an object without kind: %s, want ERROR", ev.Type)
	}
	if err := apierrors.FromObject(ev.Object); !strings.Contains(err.Error(), "Kind' is missing") {
		t.Fatalf("ERROR event: %v, want the missing kind", err)
	}
	if q := srv.query(0); q.Has("labelSelector") {
		t.Errorf("no selector given, query has labelSelector=%q", q.Get("labelSelector"))
	}
}

// TestInformerStreamsInitialEvents runs a real informer through NewInformer:
// client-go's reflector opens a watch list (the initial objects arrive as
// events, ended by a bookmark) and the store holds what the events say.
func TestInformerStreamsInitialEvents(t *testing.T) {
	srv := &server{streams: [][]string{{
		gatewayFrame("ADDED", "a", "10"),
		gatewayFrame("ADDED", "b", "11"),
		`{"type":"BOOKMARK","object":{"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","metadata":{"resourceVersion":"11","annotations":{"k8s.io/initial-events-end":"true"}}}}`,
		gatewayFrame("DELETED", "a", "12"),
		gatewayFrame("ADDED", "c", "13"),
	}}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	listed := false
	lw := &toolscache.ListWatch{ListWithContextFunc: func(context.Context, metav1.ListOptions) (runtime.Object, error) {
		listed = true
		l := &unstructured.UnstructuredList{}
		l.SetResourceVersion("9")
		return l, nil
	}}
	newInformer := NewInformer(func() Source {
		return Source{Config: &rest.Config{Host: ts.URL}, HTTPClient: ts.Client(), Mapper: mapper()}
	}, nil)
	inf := newInformer(lw, gateway(), 0, toolscache.Indexers{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go inf.RunWithContext(ctx)

	deadline := time.Now().Add(10 * time.Second)
	for {
		keys := inf.GetStore().ListKeys()
		if reflect.DeepEqual(sorted(keys), []string{"tenant-a-system/b", "tenant-a-system/c"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store holds %v, want b and c (listed: %v, queries: %v)", keys, listed, srv.query(0))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if q := srv.query(0); q.Get("sendInitialEvents") != "true" || listed {
		t.Fatalf("the reflector listed (%v) instead of a watch list (query %v)", listed, q)
	}
	item, ok, _ := inf.GetStore().GetByKey("tenant-a-system/b")
	if !ok || item.(*unstructured.Unstructured).GetResourceVersion() != "11" {
		t.Fatalf("b = %v", item)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

func inventoryFrame(typ, name, rv string) string {
	return fmt.Sprintf(`{"type":%q,"object":{"kind":"TenantInventory","apiVersion":"addons.projectcapsule.dev/v1alpha1","metadata":{"name":%q,"resourceVersion":%q,"labels":{"addons.projectcapsule.dev/globaltenantresource":"g"},"finalizers":["addons.projectcapsule.dev/finalizer"]},"spec":{"globalTenantResource":"g","tenant":"t1"},"status":{"conditions":[{"type":"Ready","status":"True","reason":"Reconciled","message":"3 objects applied","lastTransitionTime":"2026-12-05T10:00:00Z"}],"size":1,"entries":[{"id":"tenant-t1-system_gw_gateway.networking.k8s.io_Gateway","v":"v1","uid":"0b7f"}]}}}`, typ, name, rv)
}

// Typed objects decode into their Go type with the values client-go's
// scheme decoder gives, the kind cleared as client-go's unversioned
// decoders leave it; an ERROR event's Status still reaches the reflector.
func TestWatcherDecodesTypedObjectsLikeClientGo(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	srv := &server{path: "/apis/addons.projectcapsule.dev/v1alpha1/tenantinventories", streams: [][]string{{
		inventoryFrame("ADDED", "g.t1", "10"),
		inventoryFrame("MODIFIED", "g.t1", "11"),
		`{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version","reason":"Expired","code":410}}`,
	}}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	w, err := watcher(Source{Config: &rest.Config{Host: ts.URL}, HTTPClient: ts.Client(), Mapper: mapper(), Scheme: scheme}, &v1alpha1.TenantInventory{}, nil)
	if err != nil || w == nil {
		t.Fatalf("watcher: %v, %v", w != nil, err)
	}
	wi, err := w(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer wi.Stop()
	std := serializer.WithoutConversionCodecFactory{CodecFactory: serializer.NewCodecFactory(scheme)}
	dec := std.DecoderToVersion(std.SupportedMediaTypes()[0].Serializer, v1alpha1.GroupVersion)
	for _, rv := range []string{"10", "11"} {
		ev := next(t, wi)
		got, ok := ev.Object.(*v1alpha1.TenantInventory)
		if !ok {
			t.Fatalf("object %T, want *v1alpha1.TenantInventory", ev.Object)
		}
		frame := inventoryFrame("X", "g.t1", rv)
		want, err := runtime.Decode(dec, []byte(frame[strings.Index(frame, `"object":`)+9:len(frame)-1]))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded\n%#v\nclient-go's decoding gives\n%#v", got, want)
		}
		if got.Status.Entries[0].UID != "0b7f" || got.ResourceVersion != rv {
			t.Fatalf("decoded %+v", got)
		}
	}
	ev := next(t, wi)
	if err := apierrors.FromObject(ev.Object); ev.Type != watch.Error || !apierrors.IsResourceExpired(err) {
		t.Fatalf("ERROR event: %s %v, want the 410 Expired status", ev.Type, err)
	}
}

// Built-in kinds keep client-go's watch (protobuf); so do metadata-only informers.
func TestWatcherLeavesBuiltinKinds(t *testing.T) {
	for _, obj := range []runtime.Object{&corev1.Namespace{}, &metav1.PartialObjectMetadata{}} {
		w, err := watcher(Source{Config: &rest.Config{Host: "http://127.0.0.1:1"}, Mapper: mapper(), Scheme: clientgoscheme.Scheme}, obj, nil)
		if err != nil || w != nil {
			t.Errorf("watcher(%T) = %v, %v; want client-go's (nil)", obj, w != nil, err)
		}
	}
}

func TestEventSpan(t *testing.T) {
	for _, c := range []struct{ frame, typ, obj string }{
		{`{"type":"ADDED","object":{"a":[1,{"b":"}\"]"}]}}`, "ADDED", `{"a":[1,{"b":"}\"]"}]}`},
		{` { "object" : {"kind":"X"} , "type" : "DELETED" } `, "DELETED", `{"kind":"X"}`},
		{`{"type":"BOOKMARK","extra":[true,null,-1.5e3,"x"],"object":{}}`, "BOOKMARK", `{}`},
	} {
		typ, obj, err := EventSpan([]byte(c.frame))
		if err != nil || string(typ) != c.typ || string(obj) != c.obj {
			t.Errorf("EventSpan(%s) = %s, %s, %v; want %s, %s", c.frame, typ, obj, err, c.typ, c.obj)
		}
	}
	for _, frame := range []string{
		``, `[]`, `{"type":"ADDED"}`, `{"type":"NOPE","object":{}}`, `{"type":"ADDED","object":"x"}`,
		`{"type":"ADDED","object":{}`, `{"type":"ADDED" "object":{}}`, `{"type":"ADDED","object":{"a":"}`,
		`{"type":"ADDED","object":{},}`, `{type:"ADDED","object":{}}`,
	} {
		if _, _, err := EventSpan([]byte(frame)); err == nil {
			t.Errorf("EventSpan(%s) accepted a malformed event", frame)
		}
	}
}

// FuzzEventSpan: where Event decodes a frame, EventSpan finds the same type
// and the bytes of the same object.
func FuzzEventSpan(f *testing.F) {
	f.Add([]byte(gatewayFrame("ADDED", "gw", "1")))
	f.Add([]byte(inventoryFrame("MODIFIED", "g.t", "2")))
	f.Add([]byte(`{"object":{"a":"\"}"},"type":"DELETED","x":[1,2]}`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		typ, obj, err := Event(frame)
		if err != nil {
			return
		}
		styp, span, serr := EventSpan(frame)
		if serr != nil {
			t.Fatalf("EventSpan refused %q, which Event decodes: %v", frame, serr)
		}
		got, err := Object(span)
		if err != nil {
			t.Fatalf("EventSpan(%q) object %q: %v", frame, span, err)
		}
		if styp != typ || !reflect.DeepEqual(got, obj) {
			t.Fatalf("EventSpan(%q) = %s %q; Event: %s %#v", frame, styp, span, typ, obj)
		}
	})
}
