// Package snapshot is an offline cluster made of the objects in some YAML
// files: GlobalTenantResources (tenantgen's or Capsule's), Capsule Tenants,
// Namespaces and any other objects, which serve as context. It implements
// render.World for `tenantgen render` and `tenantgen test`.
package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sigsjson "sigs.k8s.io/json"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/convert"
	"github.com/projectcapsule/tenantgen/pkg/kinds"
	"github.com/projectcapsule/tenantgen/pkg/manifest"
	"github.com/projectcapsule/tenantgen/pkg/render"
	"github.com/projectcapsule/tenantgen/pkg/tenant"
)

// GTR is a GlobalTenantResource with where it was read from.
type GTR struct {
	*v1alpha1.GlobalTenantResource
	// Source is "file:line".
	Source string
	// Warning is set when a Capsule manifest had fields tenantgen does not know.
	Warning string
	// Defaults names Capsule's defaults applied to a Capsule manifest where they
	// differ from tenantgen's (missingKey zero, optional true).
	Defaults string

	item manifest.Item
}

// at is "file:line" of the field an error names by Origin ("spec.scope",
// "resources[0].generators[1]"), Source when it names none.
func (g GTR) at(err error) string {
	var es render.Errors
	if !errors.As(err, &es) || len(es) == 0 || es[0].Origin == "" || g.item.Doc == "" {
		return g.Source
	}
	path := es[0].Origin
	if !strings.HasPrefix(path, "spec.") {
		path = "spec." + path
	}
	return fmt.Sprintf("%s:%d", g.item.File, g.item.FieldLine(path))
}

// Snapshot is the offline cluster.
type Snapshot struct {
	GTRs    []GTR
	Tenants *tenant.Directory
	// objects indexes everything by group/kind, then namespace ("" for cluster-scoped).
	objects map[schema.GroupKind]map[string][]*unstructured.Unstructured
	// scope records what CRDs and objects in the input teach about kinds.
	scope map[schema.GroupKind]bool
	// namespaces are the names of the input's Namespaces: NamespaceKnown is
	// asked once per rendered object, and a scan per question made a
	// 10,000-tenant render quadratic (minutes instead of seconds).
	namespaces map[string]bool
	// cluster, when set, replaces objects and scope: see Over.
	cluster Cluster
}

// Cluster is a live cluster as a render reads it (pkg/cluster reads one): its
// tenants, the context objects and the scopes of kinds, from discovery.
type Cluster interface {
	render.World
	Tenants() *tenant.Directory
	// NamespaceExists reports whether the cluster has the namespace.
	NamespaceExists(name string) bool
}

// Over makes the snapshot read tenants, namespaces, context and kind scopes
// from a live cluster; only its GlobalTenantResources still come from the
// input. `render --kubeconfig` and `diff` render this way, so the loop over
// GlobalTenantResources and tenants is the same one as offline.
func (s *Snapshot) Over(c Cluster) {
	s.cluster = c
	s.Tenants = c.Tenants()
}

// capsuleGTR is Capsule's own kind, which tenantgen reads as its own.
var capsuleGTR = schema.GroupKind{Group: tenant.Group, Kind: "GlobalTenantResource"}

var ourGTR = schema.GroupKind{Group: v1alpha1.Group, Kind: "GlobalTenantResource"}

// New builds a snapshot. GlobalTenantResources are decoded strictly: an unknown
// field in one of ours is an error (as the apiserver's strict field validation
// would say); in a Capsule one it is a warning, since Capsule may have fields
// tenantgen does not implement.
func New(items []manifest.Item) (*Snapshot, error) {
	s := &Snapshot{objects: map[schema.GroupKind]map[string][]*unstructured.Unstructured{}, scope: map[schema.GroupKind]bool{}, namespaces: map[string]bool{}}
	var tenants, namespaces []*unstructured.Unstructured
	seen := map[string]string{} // identity -> source
	for _, it := range items {
		u := it.Object
		gk := u.GroupVersionKind().GroupKind()
		// A cluster holds one object per identity; two in the input would make
		// the result depend on file order (the later Tenant would win).
		id := gk.String() + " " + strings.TrimPrefix(u.GetNamespace()+"/"+u.GetName(), "/")
		if gk == capsuleGTR {
			id = ourGTR.String() + " " + u.GetName() // both kinds become one of ours
		}
		if first, dup := seen[id]; dup {
			return nil, fmt.Errorf("%s: %s is also defined at %s", it.Source(), id, first)
		}
		seen[id] = it.Source()
		if err := checkKind(it, gk); err != nil {
			return nil, err
		}
		switch {
		case gk == ourGTR || gk == capsuleGTR:
			g, err := decodeGTR(it, gk == capsuleGTR)
			if err != nil {
				return nil, err
			}
			g.Source, g.item = it.Source(), it
			s.GTRs = append(s.GTRs, g)
			continue
		case gk.Group == tenant.Group && gk.Kind == "Tenant":
			tenants = append(tenants, u)
		case gk == tenant.NamespaceGVK.GroupKind():
			namespaces = append(namespaces, u)
			s.namespaces[u.GetName()] = true
		case gk.Group == "apiextensions.k8s.io" && gk.Kind == "CustomResourceDefinition":
			learnCRD(s.scope, u)
		}
		s.add(gk, u)
	}
	sort.SliceStable(s.GTRs, func(i, j int) bool { return s.GTRs[i].Name < s.GTRs[j].Name })
	s.Tenants = tenant.NewDirectory(tenants, namespaces)
	for _, byNS := range s.objects {
		for _, objs := range byNS {
			sort.Slice(objs, func(i, j int) bool { return objs[i].GetName() < objs[j].GetName() })
		}
	}
	return s, nil
}

func (s *Snapshot) add(gk schema.GroupKind, u *unstructured.Unstructured) {
	byNS := s.objects[gk]
	if byNS == nil {
		byNS = map[string][]*unstructured.Unstructured{}
		s.objects[gk] = byNS
	}
	byNS[u.GetNamespace()] = append(byNS[u.GetNamespace()], u)
}

// decodeGTR decodes a GlobalTenantResource as the apiserver would (field
// names are case-sensitive, unknown fields are refused) and reports each
// problem at the line of the field concerned, which it names by path.
func decodeGTR(it manifest.Item, capsule bool) (GTR, error) {
	u := it.Object
	at := func(path string) string {
		return fmt.Sprintf("%s:%d: globaltenantresource %q", it.File, it.FieldLine(path), u.GetName())
	}
	if path, msg := badDuration(u.Object); path != "" {
		return GTR{}, fmt.Errorf("%s: %s: %s", at(path), path, msg)
	}
	obj := u.Object
	var defaults []convert.Note
	if capsule {
		// What Capsule's CRD would default, where it differs from tenantgen's.
		obj = runtime.DeepCopyJSON(u.Object)
		if spec, ok := obj["spec"].(map[string]any); ok {
			defaults = convert.ApplyDefaults(u.GetName(), spec)
		}
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return GTR{}, err
	}
	// encoding/json names the field of a type error (spec.scope); the
	// strict decoder below does not.
	if err := json.Unmarshal(raw, &v1alpha1.GlobalTenantResource{}); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return GTR{}, fmt.Errorf("%s: %s: got %s, want %s", at(te.Field), te.Field, article(te.Value), describe(te.Type))
		}
		return GTR{}, fmt.Errorf("%s: %w", at(""), err)
	}
	var g v1alpha1.GlobalTenantResource
	out := GTR{GlobalTenantResource: &g}
	// sigs.k8s.io/json is the apiserver's decoder: it names every unknown
	// field by its whole path (spec.resources[0].scop), where encoding/json
	// names only the first one, without its path.
	unknown, err := sigsjson.UnmarshalStrict(raw, &g, sigsjson.DisallowUnknownFields)
	if err != nil {
		return GTR{}, fmt.Errorf("%s: %w", at(""), err)
	}
	if len(unknown) > 0 {
		if !capsule {
			errs := make([]error, len(unknown))
			for i, e := range unknown {
				path := fieldPath(e)
				errs[i] = fmt.Errorf("%s: %s: unknown field", at(path), path)
			}
			return GTR{}, errors.Join(errs...)
		}
		// Capsule may have fields tenantgen does not implement: say which
		// are ignored, and where.
		parts := make([]string, len(unknown))
		for i, e := range unknown {
			path := fieldPath(e)
			parts[i] = fmt.Sprintf("%s (line %d)", path, it.FieldLine(path))
		}
		out.Warning = "ignored what tenantgen does not implement: " + strings.Join(parts, ", ")
	}
	g.APIVersion, g.Kind = v1alpha1.GroupVersion.String(), "GlobalTenantResource"
	if len(defaults) > 0 {
		parts := make([]string, len(defaults))
		for i, d := range defaults {
			parts[i] = d.Path + " " + d.Msg
		}
		out.Defaults = "applied Capsule's defaults (it is a capsule.clastix.io GlobalTenantResource): " + strings.Join(parts, "; ")
	}
	return out, nil
}

// fieldPath is the path of a strict decoding error's field.
func fieldPath(err error) string {
	var fe sigsjson.FieldError
	if errors.As(err, &fe) {
		return fe.FieldPath()
	}
	return err.Error()
}

// List implements render.World. Objects match by group and kind: a file holds
// one version of an object, where a cluster would convert between versions.
func (s *Snapshot) List(gvk schema.GroupVersionKind, namespace string, sel labels.Selector) ([]*unstructured.Unstructured, error) {
	if s.cluster != nil {
		return s.cluster.List(gvk, namespace, sel)
	}
	byNS := s.objects[gvk.GroupKind()]
	var out []*unstructured.Unstructured
	pick := func(objs []*unstructured.Unstructured) {
		for _, o := range objs {
			if sel.Matches(labels.Set(o.GetLabels())) {
				out = append(out, o)
			}
		}
	}
	if namespace != "" {
		pick(byNS[namespace])
		return out, nil
	}
	nss := make([]string, 0, len(byNS))
	for ns := range byNS {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	for _, ns := range nss {
		pick(byNS[ns])
	}
	return out, nil
}

// Namespaced implements render.World. Offline there is no discovery, so the
// scope of a kind comes from, in order: a CRD in the input, the built-in
// table of cluster-scoped kinds, and otherwise namespaced. It never returns
// render.ErrUnknownKind: an offline snapshot cannot tell an unserved kind.
func (s *Snapshot) Namespaced(gvk schema.GroupVersionKind) (bool, error) {
	if s.cluster != nil {
		return s.cluster.Namespaced(gvk)
	}
	gk := gvk.GroupKind()
	if namespaced, ok := s.scope[gk]; ok {
		return namespaced, nil
	}
	return !kinds.ClusterScoped(gk), nil
}

// ScopeHint implements render.ScopeHinter: a kind neither a CRD in the input
// nor the built-in table knows was taken as namespaced, which is wrong for a
// cluster-scoped custom kind such as Capsule's GlobalProxySettings.
func (s *Snapshot) ScopeHint(gvk schema.GroupVersionKind) string {
	gk := gvk.GroupKind()
	if _, ok := s.scope[gk]; ok || kinds.ClusterScoped(gk) || kinds.Covers(gk.Group) {
		return ""
	}
	return fmt.Sprintf("no CustomResourceDefinition in the input defines %s, so it was taken as namespaced; "+
		"if it is cluster-scoped, add its CustomResourceDefinition to the inputs (kubectl get crd -o yaml lists them)", gk)
}

// NamespaceOwner implements render.World.
func (s *Snapshot) NamespaceOwner(namespace string) string { return s.Tenants.Owner(namespace) }

// NamespaceKnown reports whether the input has the namespace or a tenant lists it.
func (s *Snapshot) NamespaceKnown(name string) bool {
	if s.cluster != nil {
		return s.cluster.NamespaceExists(name)
	}
	return s.namespaces[name] || s.Tenants.Owner(name) != ""
}

func learnCRD(scope map[schema.GroupKind]bool, crd *unstructured.Unstructured) {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	sc, _, _ := unstructured.NestedString(crd.Object, "spec", "scope")
	if kind != "" {
		scope[schema.GroupKind{Group: group, Kind: kind}] = sc != "Cluster"
	}
}

var (
	_ render.World       = (*Snapshot)(nil)
	_ render.ScopeHinter = (*Snapshot)(nil)
)
