package decoder

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	kjson "sigs.k8s.io/json"
)

// Event decodes one frame of a JSON watch stream, {"type": ..., "object":
// {...}}, in one pass.
func Event(frame []byte) (watch.EventType, map[string]any, error) {
	m, err := Object(frame)
	if err != nil {
		return "", nil, err
	}
	t, _ := m["type"].(string)
	obj, ok := m["object"].(map[string]any)
	et, err := eventType(t, ok)
	if err != nil {
		return "", nil, err
	}
	return et, obj, nil
}

// eventType checks the type of a watch event, and that it has an object.
func eventType(t string, object bool) (watch.EventType, error) {
	switch watch.EventType(t) {
	case watch.Added, watch.Modified, watch.Deleted, watch.Bookmark, watch.Error:
	default:
		return "", fmt.Errorf("watch event of type %q", t)
	}
	if !object {
		return "", fmt.Errorf("%s watch event without an object", t)
	}
	return watch.EventType(t), nil
}

// EventSpan reads a frame of a JSON watch stream for its type and the bytes
// of its object, which it does not decode (typed objects are decoded
// straight into their Go type; see typedObjects).
func EventSpan(frame []byte) (watch.EventType, []byte, error) {
	p := parser{data: frame}
	p.space()
	if p.i >= len(p.data) || p.data[p.i] != '{' {
		return "", nil, p.fail("expected an object")
	}
	var t string
	var obj []byte
	err := p.members(func(k string) error {
		switch k {
		case "type":
			v, err := p.value()
			t, _ = v.(string)
			return err
		case "object":
			p.space()
			start := p.i
			err := p.skip()
			obj = frame[start:p.i]
			return err
		default:
			return p.skip()
		}
	})
	if err != nil {
		return "", nil, err
	}
	et, err := eventType(t, len(obj) > 0 && obj[0] == '{')
	if err != nil {
		return "", nil, err
	}
	return et, obj, nil
}

// Source is where a cache's informers watch.
type Source struct {
	Config     *rest.Config
	HTTPClient *http.Client
	Mapper     meta.RESTMapper
	Scheme     *runtime.Scheme // the Go types of the typed objects
}

// NewInformer is a cache.Options.NewInformer: informers of unstructured
// objects watch through Event, informers of typed objects through
// EventSpan and a decode straight into their type; lists, and the
// built-in kinds (protobuf), keep client-go's decoding. src is asked when
// an informer is made, so that it can return the parts of a manager that
// does not exist yet when its cache options are written. selector is the
// cache's label selector (nil: none), which controller-runtime adds to its
// own watch function, replaced here.
func NewInformer(src func() Source, selector labels.Selector) func(toolscache.ListerWatcher, runtime.Object, time.Duration, toolscache.Indexers) toolscache.SharedIndexInformer {
	return func(lw toolscache.ListerWatcher, obj runtime.Object, resync time.Duration, indexers toolscache.Indexers) toolscache.SharedIndexInformer {
		if w, err := watcher(src(), obj, selector); err == nil && w != nil {
			list := toolscache.ToListerWatcherWithContext(lw)
			lw = &toolscache.ListWatch{ListWithContextFunc: list.ListWithContext, WatchFuncWithContext: w}
		}
		// Else the informer keeps client-go's watch (controller-runtime
		// mapped the kind just before, so an error does not happen).
		return toolscache.NewSharedIndexInformer(lw, obj, resync, indexers)
	}
}

// watcher returns the watch function of obj's kind: client-go's
// Request.Watch (its retries, errors and warnings) with the stream decoded
// here; nil for the kinds client-go decodes best itself.
func watcher(src Source, obj runtime.Object, selector labels.Selector) (func(context.Context, metav1.ListOptions) (watch.Interface, error), error) {
	var gvk schema.GroupVersionKind
	var c *rest.Config
	var streams func(std runtime.ClientNegotiator) runtime.ClientNegotiator
	switch o := obj.(type) {
	case *unstructured.Unstructured:
		gvk = o.GroupVersionKind()
		c = dynamic.ConfigFor(src.Config) // the dynamic client's content types and serializer
		streams = func(std runtime.ClientNegotiator) runtime.ClientNegotiator { return unstructuredNegotiator{std} }
	case *metav1.PartialObjectMetadata:
		return nil, nil
	default:
		if src.Scheme == nil {
			return nil, nil
		}
		kinds, _, err := src.Scheme.ObjectKinds(obj)
		if err != nil || len(kinds) == 0 {
			return nil, err
		}
		gvk = kinds[0]
		if clientgoscheme.Scheme.Recognizes(gvk) {
			return nil, nil // a built-in kind: protobuf
		}
		c = rest.CopyConfig(src.Config)
		c.ContentType, c.AcceptContentTypes = runtime.ContentTypeJSON, runtime.ContentTypeJSON
		c.NegotiatedSerializer = serializer.WithoutConversionCodecFactory{CodecFactory: serializer.NewCodecFactory(src.Scheme)}
		streams = func(std runtime.ClientNegotiator) runtime.ClientNegotiator {
			return typedNegotiator{ClientNegotiator: std, scheme: src.Scheme, gvk: gvk}
		}
	}
	mapping, err := src.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	gv := gvk.GroupVersion()
	c.GroupVersion = &gv
	c.APIPath = "/apis"
	if gv.Group == "" {
		c.APIPath = "/api"
	}
	base, versioned, err := rest.DefaultServerUrlFor(c)
	if err != nil {
		return nil, err
	}
	content := rest.ClientContentConfig{
		AcceptContentTypes: c.AcceptContentTypes, ContentType: c.ContentType, GroupVersion: gv,
		Negotiator: streams(runtime.NewClientNegotiator(c.NegotiatedSerializer, gv)),
	}
	// No rate limiter: client-go does not rate-limit watches either.
	rc, err := rest.NewRESTClient(base, versioned, content, nil, src.HTTPClient)
	if err != nil {
		return nil, err
	}
	resource := mapping.Resource.Resource
	return func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		opts.Watch = true
		if selector != nil {
			opts.LabelSelector = selector.String()
		}
		return rc.Get().Resource(resource).SpecificallyVersionedParams(&opts, parameterCodec, versionV1).Watch(ctx)
	}, nil
}

// The dynamic client's encoding of list options.
var (
	parameterScheme = runtime.NewScheme()
	parameterCodec  = runtime.NewParameterCodec(parameterScheme)
	versionV1       = schema.GroupVersion{Version: "v1"}
)

func init() {
	metav1.AddToGroupVersion(parameterScheme, versionV1)
}

// unstructuredNegotiator is the dynamic client's, except for JSON watch
// streams: each watch gets an event decoder that parses the whole frame
// once and hands the object to its object decoder, which client-go calls
// next with the object's bytes.
type unstructuredNegotiator struct {
	runtime.ClientNegotiator
}

func (n unstructuredNegotiator) StreamDecoder(contentType string, params map[string]string) (runtime.Decoder, runtime.Serializer, runtime.Framer, error) {
	if contentType != runtime.ContentTypeJSON {
		return n.ClientNegotiator.StreamDecoder(contentType, params)
	}
	h := &handoff{}
	return objectDecoder{h}, eventDecoder{h: h}, framer{}, nil
}

// typedNegotiator is the scheme's, except for JSON watch streams of gvk:
// the event is scanned once for its type and object (EventSpan) and the
// object decoded straight into its Go type. client-go's path also decodes
// each object's kind first, twice.
type typedNegotiator struct {
	runtime.ClientNegotiator
	scheme *runtime.Scheme
	gvk    schema.GroupVersionKind
}

func (n typedNegotiator) StreamDecoder(contentType string, params map[string]string) (runtime.Decoder, runtime.Serializer, runtime.Framer, error) {
	if contentType != runtime.ContentTypeJSON {
		return n.ClientNegotiator.StreamDecoder(contentType, params)
	}
	std, _, _, err := n.ClientNegotiator.StreamDecoder(contentType, params)
	if err != nil {
		return nil, nil, nil, err
	}
	h := &handoff{}
	return typedObjects{h: h, std: std, scheme: n.scheme, gvk: n.gvk}, eventDecoder{h: h, span: true}, framer{}, nil
}

// handoff carries what the event decoder learnt to the object decoder of
// the same watch: client-go calls them one after the other on the watch's
// goroutine.
type handoff struct {
	obj map[string]any  // the decoded object (unstructured)
	typ watch.EventType // the event's type
}

// eventDecoder decodes a frame into the metav1.WatchEvent client-go asks
// for. Unstructured: the whole frame is parsed and the object waits in the
// handoff. Typed (span): the frame is only scanned, and Raw holds the
// object's bytes, which client-go passes to typedObjects next.
type eventDecoder struct {
	h    *handoff
	span bool
}

func (d eventDecoder) Decode(data []byte, _ *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	ev, ok := into.(*metav1.WatchEvent)
	if !ok {
		return nil, nil, fmt.Errorf("decoding a watch event into %T", into)
	}
	var t watch.EventType
	raw := data
	var err error
	if d.span {
		t, raw, err = EventSpan(data)
	} else {
		t, d.h.obj, err = Event(data)
	}
	if err != nil {
		return nil, nil, err
	}
	d.h.typ = t
	ev.Type = string(t)
	ev.Object = runtime.RawExtension{Raw: raw}
	return ev, nil, nil
}

func (eventDecoder) Encode(runtime.Object, io.Writer) error {
	return fmt.Errorf("the watch event decoder does not encode")
}

func (eventDecoder) Identifier() runtime.Identifier { return "tenantgen-watch-event-json" }

// objectDecoder returns the object the event decoder left.
type objectDecoder struct{ h *handoff }

func (d objectDecoder) Decode(data []byte, _ *schema.GroupVersionKind, _ runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	obj := d.h.obj
	d.h.obj = nil
	if obj == nil {
		return nil, nil, fmt.Errorf("no watch event decoded before its object")
	}
	u := &unstructured.Unstructured{Object: obj}
	gvk := u.GroupVersionKind()
	// What apimachinery's unstructured decoding refuses too.
	if gvk.Kind == "" {
		return nil, nil, runtime.NewMissingKindErr(string(data))
	}
	if gvk.Version == "" {
		return nil, nil, runtime.NewMissingVersionErr(string(data))
	}
	return u, &gvk, nil
}

// typedObjects decodes the objects of a watch of gvk into their Go type,
// as the scheme's JSON serializer does (not strict, integers kept, the
// kind cleared as client-go's unversioned decoders do). An ERROR event's
// Status goes to the scheme's decoder.
type typedObjects struct {
	h      *handoff
	std    runtime.Decoder
	scheme *runtime.Scheme
	gvk    schema.GroupVersionKind
}

func (d typedObjects) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	if d.h.typ == watch.Error {
		return d.std.Decode(data, defaults, into)
	}
	obj, err := d.scheme.New(d.gvk)
	if err != nil {
		return nil, nil, err
	}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(data, obj); err != nil {
		return nil, nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	gvk := d.gvk
	return obj, &gvk, nil
}
