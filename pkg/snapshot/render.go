package snapshot

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/render"
	"github.com/projectcapsule/tenantgen/pkg/tenant"
)

// Result is everything the snapshot's GlobalTenantResources render.
type Result struct {
	// Objects in apply order over all GlobalTenantResources and tenants.
	Objects []render.Object
	// Errors name the file, the GlobalTenantResource, the tenant and the line.
	Errors []error
	// Warnings do not fail the render but deserve a look.
	Warnings []string
	// Notes explain an output that may surprise: a GlobalTenantResource
	// that selects no tenant renders nothing, which is not an error.
	Notes []string
	// Pairs are the GlobalTenantResource × tenant pairs that rendered without
	// error (tenant "" in scope None), in render order. What such a pair's
	// inventory lists and its render no longer produces is what the
	// controller would prune; a failed pair prunes nothing.
	Pairs []Pair
}

// Pair is one GlobalTenantResource × tenant.
type Pair struct{ GTR, Tenant string }

// Render renders every GlobalTenantResource for every tenant it selects. With
// onlyTenant set, only that tenant's renders run (scope None is skipped). A
// failing tenant does not stop the others, as in the controller.
func (s *Snapshot) Render(onlyTenant string) (*Result, error) {
	tenants := s.Tenants.Tenants()
	if onlyTenant != "" {
		t, ok := s.Tenants.Get(onlyTenant)
		if !ok {
			names := make([]string, len(tenants))
			for i, t := range tenants {
				names[i] = t.Name
			}
			return nil, fmt.Errorf("tenant %q is not in the input (tenants: %s)", onlyTenant, strings.Join(names, ", "))
		}
		tenants = []*tenant.Tenant{t}
	}
	res := &Result{}
	owners := map[string]string{} // object identity -> "gtr/tenant" that rendered it first
	for _, g := range s.GTRs {
		if g.Defaults != "" {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: globaltenantresource %q: %s", g.Source, g.Name, g.Defaults))
		}
		if g.Warning != "" {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: globaltenantresource %q: %s", g.Source, g.Name, g.Warning))
		}
		p, err := render.Compile(g.GlobalTenantResource)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("%s: %w", g.at(err), err))
			continue
		}
		var outs []*render.Output
		if p.Scope() == v1alpha1.ScopeNone {
			if onlyTenant != "" {
				continue
			}
			var selected []*tenant.Tenant
			for _, t := range tenants {
				if p.Selects(t) {
					selected = append(selected, t)
				}
			}
			out, err := p.Cluster(s, selected)
			if err != nil {
				res.Errors = append(res.Errors, fmt.Errorf("%s: %w", g.Source, err))
			} else {
				outs = append(outs, out)
				res.Pairs = append(res.Pairs, Pair{GTR: g.Name})
			}
		} else {
			if !slices.ContainsFunc(tenants, p.Selects) {
				res.Notes = append(res.Notes, s.selectsNone(g, onlyTenant))
			}
			for _, t := range tenants {
				if !p.Selects(t) {
					continue
				}
				out, err := p.Tenant(s, t)
				if err != nil {
					res.Errors = append(res.Errors, fmt.Errorf("%s: %w", g.Source, err))
					continue
				}
				outs = append(outs, out)
				res.Pairs = append(res.Pairs, Pair{GTR: g.Name, Tenant: t.Name})
			}
		}
		for _, out := range outs {
			by := g.Name + "/" + out.Tenant
			for _, o := range out.Objects {
				id := o.GroupVersionKind().GroupKind().String() + " " + o.GetNamespace() + "/" + o.GetName()
				if first, dup := owners[id]; dup {
					// Two field managers would fight over it in a cluster.
					res.Errors = append(res.Errors, fmt.Errorf("%s: globaltenantresource %q, tenant %q, %s: %s is also rendered by %s",
						g.Source, g.Name, out.Tenant, o.Origin, o.Ref(), first))
					continue
				}
				owners[id] = by
				res.Objects = append(res.Objects, o)
			}
		}
	}
	// Apply order first (render.Sort is stable), and within it one tenant's
	// objects together, in the order of the GlobalTenantResources and their items.
	sort.SliceStable(res.Objects, func(i, j int) bool { return res.Objects[i].Tenant < res.Objects[j].Tenant })
	render.Sort(res.Objects)
	res.Warnings = append(res.Warnings, s.missingNamespaces(res.Objects)...)
	return res, nil
}

// selectsNone says that a GlobalTenantResource renders nothing because its
// tenantSelector matches no tenant of the input (or not the one asked for).
func (s *Snapshot) selectsNone(g GTR, onlyTenant string) string {
	sel := metav1.FormatLabelSelector(&g.Spec.TenantSelector)
	if onlyTenant != "" {
		return fmt.Sprintf("%s: globaltenantresource %q renders nothing: its tenantSelector (%s) does not select tenant %q",
			g.Source, g.Name, sel, onlyTenant)
	}
	var names []string
	for _, t := range s.Tenants.Tenants() {
		names = append(names, t.Name)
	}
	have := "the input has no tenant"
	if len(names) > 0 {
		have = "tenants in the input: " + strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s: globaltenantresource %q renders nothing: its tenantSelector (%s) selects no tenant (%s)",
		g.Source, g.Name, sel, have)
}

// missingNamespaces warns about target namespaces that neither exist in the
// input nor are rendered: the controller reports those as item errors.
func (s *Snapshot) missingNamespaces(objs []render.Object) []string {
	rendered := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "Namespace" && o.GroupVersionKind().Group == "" {
			rendered[o.GetName()] = true
		}
	}
	missing := map[string][]string{}
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && !rendered[ns] && !s.NamespaceKnown(ns) {
			missing[ns] = append(missing[ns], o.Ref())
		}
	}
	names := make([]string, 0, len(missing))
	for ns := range missing {
		names = append(names, ns)
	}
	sort.Strings(names)
	var out []string
	for _, ns := range names {
		out = append(out, fmt.Sprintf("namespace %q is neither in the input nor rendered; in a cluster without it these fail to apply: %s",
			ns, strings.Join(missing[ns], ", ")))
	}
	return out
}
