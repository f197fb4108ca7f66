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
	jsonserializer "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
)

// Event decodes one frame of a JSON watch stream, {"type": ..., "object":
// {...}}, in one pass.
func Event(frame []byte) (watch.EventType, map[string]any, error) {
	m, err := Object(frame)
	if err != nil {
		return "", nil, err
	}
	t, _ := m["type"].(string)
	switch watch.EventType(t) {
	case watch.Added, watch.Modified, watch.Deleted, watch.Bookmark, watch.Error:
	default:
		return "", nil, fmt.Errorf("watch event of type %q", t)
	}
	obj, ok := m["object"].(map[string]any)
	if !ok {
		return "", nil, fmt.Errorf("%s watch event without an object", t)
	}
	return watch.EventType(t), obj, nil
}

// Source is where a cache's informers watch: its config, HTTP client and
// REST mapper. It is asked when an informer is made, so that it can return
// the parts of a manager that does not exist yet when its cache options
// are written.
type Source func() (*rest.Config, *http.Client, meta.RESTMapper)

// NewInformer is a cache.Options.NewInformer: informers of unstructured
// objects watch through Event; lists and typed objects keep client-go's
// decoding. selector is the cache's label selector (nil: none), which
// controller-runtime adds to its own watch function, replaced here.
func NewInformer(src Source, selector labels.Selector) func(toolscache.ListerWatcher, runtime.Object, time.Duration, toolscache.Indexers) toolscache.SharedIndexInformer {
	return func(lw toolscache.ListerWatcher, obj runtime.Object, resync time.Duration, indexers toolscache.Indexers) toolscache.SharedIndexInformer {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			cfg, httpClient, mapper := src()
			if w, err := watcher(cfg, httpClient, mapper, u.GroupVersionKind(), selector); err == nil {
				list := toolscache.ToListerWatcherWithContext(lw)
				lw = &toolscache.ListWatch{ListWithContextFunc: list.ListWithContext, WatchFuncWithContext: w}
			}
			// Else the informer keeps client-go's watch: controller-runtime
			// mapped the kind just before, so this does not happen.
		}
		return toolscache.NewSharedIndexInformer(lw, obj, resync, indexers)
	}
}

// watcher returns the watch function of a kind: client-go's Request.Watch
// (its retries, errors and warnings) with the stream decoded by Event.
func watcher(cfg *rest.Config, httpClient *http.Client, mapper meta.RESTMapper, gvk schema.GroupVersionKind, selector labels.Selector) (func(context.Context, metav1.ListOptions) (watch.Interface, error), error) {
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	c := dynamic.ConfigFor(cfg) // the dynamic client's content types and serializer
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
		Negotiator: negotiator{runtime.NewClientNegotiator(c.NegotiatedSerializer, gv)},
	}
	// No rate limiter: client-go does not rate-limit watches either.
	rc, err := rest.NewRESTClient(base, versioned, content, nil, httpClient)
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

// negotiator is the dynamic client's, except for JSON watch streams: each
// watch gets an event decoder that parses the whole frame once and hands
// the object to its object decoder, which client-go calls next with the
// object's bytes.
type negotiator struct {
	runtime.ClientNegotiator
}

func (n negotiator) StreamDecoder(contentType string, params map[string]string) (runtime.Decoder, runtime.Serializer, runtime.Framer, error) {
	if contentType != runtime.ContentTypeJSON {
		return n.ClientNegotiator.StreamDecoder(contentType, params)
	}
	h := &handoff{}
	return objectDecoder{h}, eventDecoder{h}, jsonserializer.Framer, nil
}

// handoff carries one decoded object from the event decoder to the object
// decoder of the same watch; client-go calls them one after the other on
// the watch's goroutine.
type handoff struct {
	obj map[string]any
}

// eventDecoder decodes a frame into the metav1.WatchEvent client-go asks
// for. The object's bytes stay in Raw (client-go passes them on); the
// decoded object waits in the handoff.
type eventDecoder struct{ h *handoff }

func (d eventDecoder) Decode(data []byte, _ *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	ev, ok := into.(*metav1.WatchEvent)
	if !ok {
		return nil, nil, fmt.Errorf("decoding a watch event into %T", into)
	}
	t, obj, err := Event(data)
	if err != nil {
		return nil, nil, err
	}
	d.h.obj = obj
	ev.Type = string(t)
	ev.Object = runtime.RawExtension{Raw: data}
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
