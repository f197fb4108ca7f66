// Package convert turns Capsule's capsule.clastix.io/v1beta2 GlobalTenantResources
// into tenantgen's addons.projectcapsule.dev/v1alpha1 ones (`tenantgen convert`).
// The spec has the same shape; what changes is made explicit:
//
//   - Capsule's CRD defaults that differ from tenantgen's are written out where the
//     manifest omitted them: generators' missingKey (Capsule: zero, tenantgen: error)
//     and the optional flag of context.resources and namespacedItems (Capsule: true,
//     tenantgen: false). The defaults both share (scope Namespace, resyncPeriod 60s,
//     pruningOnDelete true, settings adopt/force false) are left as they are.
//   - Server-side fields (status, uid, resourceVersion, managedFields, finalizers,
//     ownerReferences, kubectl's last-applied annotation) are dropped, so that
//     `kubectl get globaltenantresources.capsule.clastix.io -o yaml` converts as is.
//   - Every semantic difference that affects the manifest is reported as a warning.
//
// The package is pure: no I/O, no cluster.
package convert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	capsulev1beta2 "github.com/projectcapsule/capsule/api/v1beta2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/kinds"
	"github.com/projectcapsule/tenantgen/pkg/render"
)

// CapsuleGVK is the kind convert reads.
var CapsuleGVK = capsulev1beta2.GroupVersion.WithKind("GlobalTenantResource")

// Capsule's CRD defaults where they differ from tenantgen's.
const (
	CapsuleMissingKey = v1alpha1.MissingKeyZero
	CapsuleOptional   = true
)

// Note is one message about one GlobalTenantResource.
type Note struct {
	GTR  string
	Path string // spec path, e.g. resources[0].generators[1]; empty for the whole object
	Msg  string
}

func (n Note) String() string {
	where := fmt.Sprintf("globaltenantresource %q", n.GTR)
	if n.Path != "" {
		where += ", " + n.Path
	}
	return where + ": " + n.Msg
}

// Result is one converted GlobalTenantResource.
type Result struct {
	// Object is the tenantgen GlobalTenantResource, ready to apply.
	Object *unstructured.Unstructured
	// Defaults lists the Capsule defaults written out.
	Defaults []Note
	// Warnings list the semantic differences that affect this manifest.
	Warnings []Note
}

// Convert converts one Capsule GlobalTenantResource.
func Convert(in *unstructured.Unstructured) (*Result, error) {
	if gvk := in.GroupVersionKind(); gvk != CapsuleGVK {
		return nil, fmt.Errorf("%s %q is not a %s", gvk.Kind, in.GetName(), CapsuleGVK)
	}
	name := in.GetName()
	// Capsule's own types say whether the manifest is one Capsule would accept.
	if err := strictDecode(in.Object, &capsulev1beta2.GlobalTenantResource{}); err != nil {
		return nil, fmt.Errorf("globaltenantresource %q is not a valid %s: %w", name, CapsuleGVK.GroupVersion(), err)
	}
	spec, _, _ := unstructured.NestedMap(in.Object, "spec")
	spec = runtime.DeepCopyJSON(spec)
	if spec == nil {
		spec = map[string]any{}
	}
	res := &Result{}
	res.Defaults = ApplyDefaults(name, spec)

	out := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	out.SetAPIVersion(v1alpha1.GroupVersion.String())
	out.SetKind("GlobalTenantResource")
	out.SetName(name)
	if l := in.GetLabels(); len(l) > 0 {
		out.SetLabels(l)
	}
	a := in.GetAnnotations()
	delete(a, "kubectl.kubernetes.io/last-applied-configuration")
	if len(a) > 0 {
		out.SetAnnotations(a)
	}
	res.Object = out

	var g v1alpha1.GlobalTenantResource
	if err := strictDecode(out.Object, &g); err != nil {
		return nil, fmt.Errorf("globaltenantresource %q uses what tenantgen does not implement: %w", name, err)
	}
	res.Warnings = warnings(&g)
	if _, err := render.Compile(&g); err != nil {
		res.Warnings = append(res.Warnings, Note{GTR: name,
			Msg: fmt.Sprintf("tenantgen refuses it as it is, fix it before applying: %v", err)})
	}
	return res, nil
}

// ApplyDefaults writes Capsule's CRD defaults that differ from tenantgen's into a
// Capsule GlobalTenantResource spec (a JSON map, changed in place) where the
// manifest omitted them, and returns one note per default written. `tenantgen
// render` uses it for Capsule manifests, `tenantgen convert` for its output.
func ApplyDefaults(gtr string, spec map[string]any) []Note {
	var notes []Note
	resources, _ := spec["resources"].([]any)
	for i, r := range resources {
		rm, ok := r.(map[string]any)
		if !ok {
			continue
		}
		gens, _ := rm["generators"].([]any)
		for j, gen := range gens {
			if gm, ok := gen.(map[string]any); ok {
				if _, set := gm["missingKey"]; !set {
					gm["missingKey"] = string(CapsuleMissingKey)
					notes = append(notes, Note{GTR: gtr, Path: fmt.Sprintf("resources[%d].generators[%d]", i, j),
						Msg: "missingKey: zero (Capsule's default; tenantgen's default is error)"})
				}
			}
		}
		optional := func(list []any, path string) {
			for k, it := range list {
				if im, ok := it.(map[string]any); ok {
					if _, set := im["optional"]; !set {
						im["optional"] = CapsuleOptional
						notes = append(notes, Note{GTR: gtr, Path: fmt.Sprintf("resources[%d].%s[%d]", i, path, k),
							Msg: "optional: true (Capsule's default; tenantgen's default is false)"})
					}
				}
			}
		}
		items, _ := rm["namespacedItems"].([]any)
		optional(items, "namespacedItems")
		if c, ok := rm["context"].(map[string]any); ok {
			refs, _ := c["resources"].([]any)
			optional(refs, "context.resources")
		}
	}
	return notes
}

// kindRE finds the kinds a generator's template emits (`kind: X` at a line start).
var kindRE = regexp.MustCompile(`(?m)^\s*kind:\s*["']?([A-Za-z][A-Za-z0-9]*)["']?\s*$`)

// apiVersionRE finds the apiVersion next to a kind, to tell a group.
var apiVersionRE = regexp.MustCompile(`(?m)^\s*apiVersion:\s*["']?([A-Za-z0-9./-]+)["']?\s*$`)

// warnings lists the semantic differences between Capsule and tenantgen that affect g.
func warnings(g *v1alpha1.GlobalTenantResource) []Note {
	var out []Note
	add := func(path, format string, args ...any) {
		out = append(out, Note{GTR: g.Name, Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	scope := g.Spec.ScopeOrDefault()
	renders := false
	for i, r := range g.Spec.Resources {
		renders = renders || len(r.RawItems) > 0 || len(r.Generators) > 0 || len(r.NamespacedItems) > 0
		for j, gen := range r.Generators {
			path := fmt.Sprintf("resources[%d].generators[%d]", i, j)
			if gen.MissingKey == v1alpha1.MissingKeyZero && strings.Contains(gen.Template, "{{") {
				add(path, "missingKey zero: a missing key renders as an empty string in tenantgen; Capsule printed <no value>")
			}
			if strings.Contains(gen.Template, ".tenant.rbac") {
				add(path, "$.tenant.rbac is Capsule's addition to the tenant context; tenantgen's $.tenant is the Tenant object only, so it is missing")
			}
			if scope == v1alpha1.ScopeNamespace {
				for _, k := range clusterKinds(gen.Template) {
					add(path, "emits the cluster-scoped kind %s in scope Namespace: Capsule refused it, tenantgen applies it (the same name rendered in two of the tenant's namespaces is an error)", k)
				}
			}
		}
		if scope == v1alpha1.ScopeNamespace {
			for k, raw := range r.RawItems {
				var m struct{ APIVersion, Kind string }
				if json.Unmarshal(raw.Raw, &m) == nil && m.Kind != "" && isClusterScoped(m.APIVersion, m.Kind) {
					add(fmt.Sprintf("resources[%d].rawItems[%d]", i, k), "the cluster-scoped kind %s in scope Namespace: Capsule refused it, tenantgen applies it (the same name rendered in two of the tenant's namespaces is an error)", m.Kind)
				}
			}
		}
		if r.Context != nil && scope == v1alpha1.ScopeTenant {
			for k, c := range r.Context.Resources {
				if c.Namespace == "" && !isClusterScoped(c.APIVersion, c.Kind) {
					add(fmt.Sprintf("resources[%d].context.resources[%d]", i, k),
						"%s %q without namespace lists only in the tenant's own namespaces in tenantgen; Capsule listed cluster-wide (set namespace to read one elsewhere)", c.Kind, c.Index)
				}
			}
		}
		if r.Context != nil && len(r.Context.Resources) > 0 && ranges(r.Generators) {
			add(fmt.Sprintf("resources[%d].context", i), "tenantgen sorts context lists by namespace/name; templates that range over them may emit another order than Capsule did (rewritten once at take-over)")
		}
	}
	if renders {
		add("", "write policy: tenantgen force-applies the objects it creates, so a manual edit is undone on the next reconcile (Capsule kept it and reported a conflict); settings.force only governs adopted or shared objects")
	}
	if g.Spec.ServiceAccount == nil {
		add("serviceAccount", "not set: tenantgen reads and writes with its own identity; Capsule impersonated the CapsuleConfiguration's impersonation.globalDefaultServiceAccount when one is configured")
	}
	if len(g.Spec.DependsOn) > 0 {
		names := make([]string, len(g.Spec.DependsOn))
		for i, d := range g.Spec.DependsOn {
			names[i] = d.Name
		}
		add("dependsOn", "names tenantgen GlobalTenantResources now (%s): convert those too", strings.Join(names, ", "))
	}
	return out
}

// clusterKinds returns the known cluster-scoped kinds a template emits, sorted.
func clusterKinds(tpl string) []string {
	versions := apiVersionRE.FindAllStringSubmatch(tpl, -1)
	seen := map[string]bool{}
	for _, m := range kindRE.FindAllStringSubmatch(tpl, -1) {
		// Without a parse, the group is unknown: a kind counts if it is cluster-scoped
		// under any apiVersion the template names (or the core group).
		groups := []string{""}
		for _, v := range versions {
			if gv, err := schema.ParseGroupVersion(v[1]); err == nil {
				groups = append(groups, gv.Group)
			}
		}
		for _, grp := range groups {
			if kinds.ClusterScoped(schema.GroupKind{Group: grp, Kind: m[1]}) {
				seen[m[1]] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isClusterScoped(apiVersion, kind string) bool {
	gv, err := schema.ParseGroupVersion(apiVersion)
	return err == nil && kinds.ClusterScoped(gv.WithKind(kind).GroupKind())
}

func strictDecode(obj map[string]any, into any) error {
	raw, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

// ranges reports whether a generator ranges over something (a context list, say).
func ranges(gens []v1alpha1.Generator) bool {
	for _, g := range gens {
		if strings.Contains(g.Template, "range") {
			return true
		}
	}
	return false
}
