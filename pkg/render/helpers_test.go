package render_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/manifest"
	"github.com/projectcapsule/tenantgen/pkg/render"
	"github.com/projectcapsule/tenantgen/pkg/snapshot"
	"github.com/projectcapsule/tenantgen/pkg/tenant"
)

// The tests of the render core run against small worlds built from
// unstructured objects. The base world has two tenants and a platform
// namespace nobody owns:
//
//	solar: solar-dev (stage dev), solar-prod (stage prod); spec.data.tier gold
//	wind:  wind-prod (stage prod)
//	platform: namespace of no tenant
//
// and HTTPRoutes labelled projectcapsule.dev/tenant, among them wind-prod/sneaky
// which tenant wind labels with solar's name.

const (
	routeAPI  = "gateway.networking.k8s.io/v1"
	labelTeam = "projectcapsule.dev/tenant"
)

// object builds an unstructured object; labels are key, value pairs.
func object(apiVersion, kind, namespace, name string, labels ...string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	if len(labels) > 0 {
		m := map[string]string{}
		for i := 0; i+1 < len(labels); i += 2 {
			m[labels[i]] = labels[i+1]
		}
		u.SetLabels(m)
	}
	return u
}

// with sets a field (path dot-separated) and returns the object.
func with(u *unstructured.Unstructured, path string, value any) *unstructured.Unstructured {
	if err := unstructured.SetNestedField(u.Object, value, strings.Split(path, ".")...); err != nil {
		panic(err)
	}
	return u
}

func tenantObj(name string, namespaces ...string) *unstructured.Unstructured {
	u := object(tenant.GVK.GroupVersion().String(), "Tenant", "", name, "env", "prod")
	ns := make([]any, len(namespaces))
	for i, n := range namespaces {
		ns[i] = n
	}
	return with(with(u, "status.state", "Active"), "status.namespaces", ns)
}

func namespaceObj(name, owner string, labels ...string) *unstructured.Unstructured {
	labels = append(labels, tenant.LabelNamespaceName, name)
	if owner != "" {
		labels = append(labels, tenant.LabelTenant, owner)
	}
	return object("v1", "Namespace", "", name, labels...)
}

func route(namespace, name, team string, hostnames ...string) *unstructured.Unstructured {
	u := object(routeAPI, "HTTPRoute", namespace, name, labelTeam, team)
	hs := make([]any, len(hostnames))
	for i, h := range hostnames {
		hs[i] = h
	}
	return with(u, "spec.hostnames", hs)
}

func configMap(namespace, name string, kv ...string) *unstructured.Unstructured {
	u := object("v1", "ConfigMap", namespace, name)
	data := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		data[kv[i]] = kv[i+1]
	}
	return with(u, "data", data)
}

// base returns the objects of the base world, fresh on every call.
func base() []*unstructured.Unstructured {
	return []*unstructured.Unstructured{
		with(tenantObj("solar", "solar-dev", "solar-prod"), "spec.data.tier", "gold"),
		with(tenantObj("wind", "wind-prod"), "metadata.labels.env", "test"),
		namespaceObj("solar-prod", "solar", "stage", "prod"),
		namespaceObj("solar-dev", "solar", "stage", "dev"),
		namespaceObj("wind-prod", "wind", "stage", "prod"),
		namespaceObj("platform", ""),
		route("solar-prod", "shop", "solar", "shop.solar.example.com"),
		route("solar-dev", "api", "solar", "api.solar.example.com"),
		route("wind-prod", "blog", "wind", "blog.wind.example.com"),
		route("wind-prod", "sneaky", "solar", "login.solar.example.com"),
		configMap("platform", "settings", "color", "blue"),
	}
}

// world builds an offline World from objects.
func world(t testing.TB, objs ...*unstructured.Unstructured) *snapshot.Snapshot {
	t.Helper()
	items := make([]manifest.Item, len(objs))
	for i, o := range objs {
		items[i] = manifest.Item{Object: o, File: "test.yaml", Line: i + 1}
	}
	s, err := snapshot.New(items)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// baseWorld is the base world plus extra objects.
func baseWorld(t testing.TB, extra ...*unstructured.Unstructured) *snapshot.Snapshot {
	t.Helper()
	return world(t, append(base(), extra...)...)
}

func tenantOf(t testing.TB, w *snapshot.Snapshot, name string) *tenant.Tenant {
	t.Helper()
	tn, ok := w.Tenants.Get(name)
	if !ok {
		t.Fatalf("no tenant %q in the world", name)
	}
	return tn
}

// reversed is a World whose List answers in reverse order and which does not
// serve the kinds in unknown, to check what the render core guarantees itself.
type reversed struct {
	render.World
	unknown []string // kinds
}

func (r reversed) List(gvk schema.GroupVersionKind, ns string, sel labels.Selector) ([]*unstructured.Unstructured, error) {
	objs, err := r.World.List(gvk, ns, sel)
	objs = slices.Clone(objs)
	slices.Reverse(objs)
	return objs, err
}

func (r reversed) Namespaced(gvk schema.GroupVersionKind) (bool, error) {
	if slices.Contains(r.unknown, gvk.Kind) {
		return false, render.ErrUnknownKind
	}
	return r.World.Namespaced(gvk)
}

// gtr decodes a GlobalTenantResource named "test" from the YAML of its spec.
func gtr(t testing.TB, spec string) *v1alpha1.GlobalTenantResource {
	t.Helper()
	var g v1alpha1.GlobalTenantResource
	doc := "metadata: {name: test}\nspec:\n  " + strings.ReplaceAll(strings.TrimSpace(spec), "\n", "\n  ")
	if err := yaml.UnmarshalStrict([]byte(doc), &g); err != nil {
		t.Fatalf("test GTR: %v\n%s", err, doc)
	}
	return &g
}

func compile(t testing.TB, spec string) *render.Program {
	t.Helper()
	p, err := render.Compile(gtr(t, spec))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

// compileError compiles a spec that must fail with exactly one error.
func compileError(t testing.TB, spec string) *render.Error {
	t.Helper()
	p, err := render.Compile(gtr(t, spec))
	if p != nil {
		t.Errorf("Compile returned a program along with error %v", err)
	}
	return oneError(t, err)
}

// oneError asserts that err is an Errors holding exactly one Error.
func oneError(t testing.TB, err error) *render.Error {
	t.Helper()
	var es render.Errors
	if !errors.As(err, &es) || len(es) != 1 {
		t.Fatalf("want exactly one render.Error, got %#v (%v)", err, err)
	}
	return es[0]
}

// renderTenant renders p for a tenant of w and fails the test on error.
func renderTenant(t testing.TB, p *render.Program, w render.World, tn *tenant.Tenant) []render.Object {
	t.Helper()
	out, err := p.Tenant(w, tn)
	if err != nil {
		t.Fatalf("render for %s: %v", tn.Name, err)
	}
	if out.Tenant != tn.Name {
		t.Errorf("Output.Tenant = %q, want %q", out.Tenant, tn.Name)
	}
	return out.Objects
}

// renderError renders p for a tenant and returns its only error.
func renderError(t testing.TB, p *render.Program, w render.World, tn *tenant.Tenant) *render.Error {
	t.Helper()
	out, err := p.Tenant(w, tn)
	if out != nil {
		t.Errorf("a failed render returned objects: %v", refs(out.Objects))
	}
	return oneError(t, err)
}

// refs names objects "Kind ns/name" in order.
func refs(objs []render.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Ref()
	}
	return out
}

// find returns the object with the given reference ("Kind ns/name").
func find(t testing.TB, objs []render.Object, ref string) render.Object {
	t.Helper()
	for _, o := range objs {
		if o.Ref() == ref {
			return o
		}
	}
	t.Fatalf("no %s among %v", ref, refs(objs))
	return render.Object{}
}

// str reads a string field (path dot-separated) of an object.
func str(t testing.TB, o render.Object, path string) string {
	t.Helper()
	v, found, err := unstructured.NestedString(o.Object, strings.Split(path, ".")...)
	if !found || err != nil {
		t.Fatalf("%s: no string at %s (%v) in %v", o.Ref(), path, err, o.Object)
	}
	return v
}

// probe renders, for a tenant in scope Tenant, one ConfigMap whose data.v is
// what body prints (body sits on line 6 of the template); context lists the
// generator's context entries. It returns data.v and the whole object as YAML.
func probe(t testing.TB, w render.World, tn *tenant.Tenant, missingKey v1alpha1.MissingKey, body string, context ...v1alpha1.ContextResource) (string, string, error) {
	t.Helper()
	g := &v1alpha1.GlobalTenantResource{}
	g.Name = "probe"
	g.Spec.Scope = v1alpha1.ScopeTenant
	g.Spec.Resources = []v1alpha1.ResourceSpec{{
		Context: &v1alpha1.Context{Resources: context},
		Generators: []v1alpha1.Generator{{MissingKey: missingKey, Template: "apiVersion: v1\n" +
			"kind: ConfigMap\n" +
			"metadata: {name: probe, namespace: platform}\n" +
			"data:\n" +
			"  v: |-\n" +
			"    " + body + "\n"}},
	}}
	p, err := render.Compile(g)
	if err != nil {
		return "", "", err
	}
	out, err := p.Tenant(w, tn)
	if err != nil {
		return "", "", err
	}
	if len(out.Objects) != 1 {
		t.Fatalf("probe rendered %v", refs(out.Objects))
	}
	whole, err := yaml.Marshal(out.Objects[0].Object)
	if err != nil {
		t.Fatal(err)
	}
	return str(t, out.Objects[0], "data.v"), string(whole), nil
}

// ctx is a context entry.
func ctx(index, apiVersion, kind string) v1alpha1.ContextResource {
	return v1alpha1.ContextResource{Index: index, ObjectReference: v1alpha1.ObjectReference{APIVersion: apiVersion, Kind: kind}}
}
