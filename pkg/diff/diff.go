// Package diff previews what applying GlobalTenantResources would change in a
// live cluster, as `kubectl diff` does for plain manifests: it renders them
// with the same core as the controller against the cluster's tenants and
// context, server-side dry-runs every object with the controller's field
// manager and force rules (pkg/apply, through a client whose every write is
// dryRun=All), and compares the result with the live object. Then it lists
// what the controller would prune: the entries of the live TenantInventories
// that the new render no longer produces, and warns when the deletion brake
// would hold them.
//
// Reads and dry-run writes use the kubeconfig's identity, not
// spec.serviceAccount: a diff shows what the render produces, and the
// controller's own permissions decide later whether it may write it.
package diff

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/apply"
	"github.com/projectcapsule/tenantgen/pkg/brake"
	"github.com/projectcapsule/tenantgen/pkg/cluster"
	"github.com/projectcapsule/tenantgen/pkg/inventory"
	"github.com/projectcapsule/tenantgen/pkg/manifest"
	"github.com/projectcapsule/tenantgen/pkg/render"
	"github.com/projectcapsule/tenantgen/pkg/snapshot"
)

// Exit codes, kubectl diff's: 0 nothing would change, 1 something would,
// above 1 an error.
const (
	ExitSame    = 0
	ExitChanged = 1
	ExitError   = 2
)

// Options of a diff.
type Options struct {
	// Files hold the GlobalTenantResources to preview (-f); other objects in
	// them are ignored with a warning.
	Files []string
	// Tenant limits the preview to one tenant (scope None is skipped).
	Tenant string
	// ExternalDiff is $KUBECTL_EXTERNAL_DIFF: a program (and arguments) run
	// with a LIVE and a MERGED directory; "" for the built-in unified diff.
	ExternalDiff string
	Stdout       io.Writer
	Stderr       io.Writer
}

// Change is one object as it is and as it would be. A nil Live is an object
// the change creates, a nil Merged one it deletes.
type Change struct {
	// File is the object's file name in the LIVE and MERGED directories,
	// <group>.<version>.<kind>.<namespace>.<name> as kubectl names them.
	File         string
	Live, Merged *unstructured.Unstructured
	// Verb says what happens: created, changed, unchanged, deleted or released.
	Verb string
}

// Run previews the GlobalTenantResources of o.Files against the cluster of
// cfg, writes the diff to o.Stdout and notes, warnings and errors to
// o.Stderr, and returns the exit code. An error it returns (nothing could
// be compared) is for the caller to print; the exit code is then ExitError.
func Run(ctx context.Context, cfg *rest.Config, o Options) (int, error) {
	if len(o.Files) == 0 {
		return ExitError, fmt.Errorf("no input: give at least one -f PATH with GlobalTenantResources")
	}
	items, err := manifest.ReadPaths(o.Files)
	if err != nil {
		return ExitError, err
	}
	c, err := cluster.Connect(ctx, cfg)
	if err != nil {
		return ExitError, err
	}
	snap, warnings, err := c.Snapshot(items)
	if err != nil {
		return ExitError, err
	}
	for _, w := range warnings {
		fmt.Fprintln(o.Stderr, "warning:", w)
	}
	if len(snap.GTRs) == 0 {
		return ExitError, fmt.Errorf("no GlobalTenantResource in %v", o.Files)
	}
	res, err := snap.Render(o.Tenant)
	if err != nil {
		return ExitError, err
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(o.Stderr, "warning:", w)
	}
	p := &preview{ctx: ctx, c: c, dry: c.DryRun(), opts: o, errs: res.Errors}
	changes := p.compare(snap, res)
	var code int
	if strings.TrimSpace(o.ExternalDiff) != "" {
		code, err = external(o, changes)
		if err != nil {
			p.errs = append(p.errs, err)
		}
	} else {
		code, err = builtin(o.Stdout, changes)
		if err != nil {
			return ExitError, err
		}
	}
	for _, e := range p.errs {
		fmt.Fprintln(o.Stderr, "error:", e)
	}
	if len(p.errs) > 0 {
		return max(code, ExitError), nil
	}
	return code, nil
}

type preview struct {
	ctx  context.Context
	c    *cluster.Cluster
	dry  client.Client
	opts Options
	errs []error
}

// compare dry-runs the rendered objects and collects the prunes of every
// GlobalTenantResource, printing a note per prune and a summary per
// GlobalTenantResource on stderr.
func (p *preview) compare(snap *snapshot.Snapshot, res *snapshot.Result) []Change {
	gtrs := map[string]snapshot.GTR{}
	invs := map[string]map[string]*v1alpha1.TenantInventory{}
	for _, g := range snap.GTRs {
		gtrs[g.Name] = g
		if g.Spec.Cordoned {
			fmt.Fprintf(p.opts.Stderr, "warning: globaltenantresource %q is cordoned: the controller applies and prunes none of this until spec.cordoned is false\n", g.Name)
		}
		if sa := g.Spec.ServiceAccount; sa != nil {
			fmt.Fprintf(p.opts.Stderr, "note: globaltenantresource %q: read and dry-run as the kubeconfig's user; the controller writes as serviceaccount %s/%s\n", g.Name, sa.Namespace, sa.Name)
		}
		m, err := p.c.Inventories(g.Name)
		if err != nil {
			p.errs = append(p.errs, err)
			m = nil
		}
		invs[g.Name] = m
	}
	// Namespaces the change creates: a dry run of an object inside one
	// cannot succeed (nothing of a dry run is stored), so such objects are
	// shown as rendered.
	newNamespaces := map[string]bool{}
	for _, o := range res.Objects {
		if o.GetKind() == "Namespace" && o.GroupVersionKind().Group == "" && !p.c.NamespaceExists(o.GetName()) {
			newNamespaces[o.GetName()] = true
		}
	}
	counts := map[string]map[string]int{}
	count := func(gtr, verb string) {
		if counts[gtr] == nil {
			counts[gtr] = map[string]int{}
		}
		counts[gtr][verb]++
	}
	rendered := map[snapshot.Pair]map[string]bool{} // ids each pair renders
	for _, pr := range res.Pairs {
		rendered[pr] = map[string]bool{}
	}
	var changes []Change
	for _, o := range res.Objects {
		gtr := o.GetLabels()[v1alpha1.LabelGlobalTenantResource]
		pair := snapshot.Pair{GTR: gtr, Tenant: o.Tenant}
		ref := inventory.RefOf(o.Unstructured)
		if rendered[pair] != nil {
			rendered[pair][ref.ID()] = true
		}
		ch, err := p.object(gtrs[gtr], o, invs[gtr][o.Tenant], newNamespaces)
		if err != nil {
			p.errs = append(p.errs, fmt.Errorf("globaltenantresource %q, tenant %q: %w", gtr, o.Tenant, err))
			continue
		}
		changes = append(changes, ch)
		count(gtr, ch.Verb)
	}
	for _, g := range snap.GTRs {
		prunes := p.prunes(g, snap, rendered, invs[g.Name])
		for _, ch := range prunes {
			count(g.Name, ch.Verb)
		}
		changes = append(changes, prunes...)
		var parts []string
		for _, verb := range []string{"created", "changed", "deleted", "released", "unchanged"} {
			if n := counts[g.Name][verb]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, verb))
			}
		}
		if len(parts) == 0 {
			parts = []string{"no objects"}
		}
		fmt.Fprintf(p.opts.Stderr, "globaltenantresource %q: %s\n", g.Name, strings.Join(parts, ", "))
	}
	return changes
}

// object dry-runs one rendered object as the controller would apply it.
func (p *preview) object(g snapshot.GTR, o render.Object, inv *v1alpha1.TenantInventory, newNamespaces map[string]bool) (Change, error) {
	ch := Change{File: fileName(o.Unstructured)}
	if ns := o.GetNamespace(); newNamespaces[ns] {
		ch.Merged, ch.Verb = o.DeepCopy(), "created"
		fmt.Fprintf(p.opts.Stderr, "note: %s: its namespace is created by this change, so it is shown as rendered, not as the dry run returns it\n", o.Ref())
		return ch, nil
	}
	var before *v1alpha1.InventoryEntry
	if inv != nil {
		if e, ok := inventory.Index(inv.Status.Entries)[inventory.RefOf(o.Unstructured).ID()]; ok {
			before = &e
		}
	}
	var live *unstructured.Unstructured
	a := &apply.Applier{Client: p.dry, Live: func(ctx context.Context, probe *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		var err error
		live, err = p.c.Get(ctx, probe)
		return live, err
	}}
	r := a.Apply(p.ctx, apply.Request{Object: o, FieldManager: apply.FieldManager(g.Name, o.Tenant), Previous: before,
		Adopt: g.Spec.Settings.Adopt, Force: g.Spec.Settings.Force})
	if r.Err != nil {
		return ch, r.Err
	}
	ch.Live, ch.Merged = live, r.Live
	switch {
	case live == nil:
		ch.Verb = "created"
	case !r.Written || same(live, r.Live):
		ch.Verb = "unchanged"
	default:
		ch.Verb = "changed"
	}
	return ch, nil
}

// prunes lists what the controller would prune for a GlobalTenantResource:
// of every live inventory, the entries its pair's new render does not
// produce, or all of them when the pair is not produced any more (the
// tenant left the selector or is gone, the scope changed). A pair whose
// render failed prunes nothing, as in the controller.
func (p *preview) prunes(g snapshot.GTR, snap *snapshot.Snapshot, rendered map[snapshot.Pair]map[string]bool, invs map[string]*v1alpha1.TenantInventory) []Change {
	prog, err := render.Compile(g.GlobalTenantResource)
	if err != nil {
		return nil // reported by the render
	}
	wanted := func(t string) bool {
		if prog.Scope() == v1alpha1.ScopeNone {
			return t == ""
		}
		tt, ok := snap.Tenants.Get(t)
		return t != "" && ok && prog.Selects(tt)
	}
	tenants := make([]string, 0, len(invs))
	total := 0
	for t, inv := range invs {
		tenants = append(tenants, t)
		total += len(inv.Status.Entries)
	}
	sort.Strings(tenants)
	var out []Change
	deletions := 0
	for _, t := range tenants {
		if p.opts.Tenant != "" && t != p.opts.Tenant {
			continue
		}
		ids, ok := rendered[snapshot.Pair{GTR: g.Name, Tenant: t}]
		why := "no longer rendered"
		switch {
		case ok:
		case !wanted(t):
			why = "no longer selected"
			if t == "" || prog.Scope() == v1alpha1.ScopeNone {
				why = "the scope changed"
			}
		default:
			continue // the render failed: nothing is pruned
		}
		fm := apply.FieldManager(g.Name, t)
		for _, e := range invs[t].Status.Entries {
			if ids[e.ID] {
				continue
			}
			deletions++ // the brake counts every stale entry
			ch, err := p.prune(e, fm)
			if err != nil {
				p.errs = append(p.errs, fmt.Errorf("globaltenantresource %q, tenant %q: %s: %w", g.Name, t, e.ID, err))
				continue
			}
			if ch == nil {
				continue
			}
			note := why
			if ch.Verb == "released" {
				note += "; adopted, so tenantgen only gives up its fields and the object stays"
			}
			fmt.Fprintf(p.opts.Stderr, "%s: %s (globaltenantresource %q, tenant %q: %s)\n", ch.Verb, inventory.RefOf(ch.Live), g.Name, t, note)
			out = append(out, *ch)
		}
	}
	if limit := brake.Limit(g.Spec.Limits.MaxDeletions, total); deletions > limit {
		fmt.Fprintf(p.opts.Stderr, "warning: globaltenantresource %q: the deletion brake would hold these %d deletions: more than spec.limits.maxDeletions allows at once (%d of %d objects); once applied, release them with `%s`\n",
			g.Name, deletions, limit, total, brake.ApproveCommand(g.Name))
	}
	return out
}

// prune is the change one stale entry makes: nil when the controller would
// leave the object alone (gone already, replaced by someone else's object,
// or an entry without uid for an object tenantgen never created).
func (p *preview) prune(e v1alpha1.InventoryEntry, fm string) (*Change, error) {
	ref, err := inventory.Parse(e)
	if err != nil {
		return nil, err
	}
	live, err := p.c.Get(p.ctx, ref.Object())
	if err != nil || live == nil {
		return nil, err
	}
	ch := &Change{File: fileName(live), Live: live, Verb: "deleted"}
	switch {
	case e.UID != "" && live.GetUID() != e.UID:
		return nil, nil // the UID precondition keeps the controller off it
	case e.Adopted:
		// Release is an empty apply as the pair's field manager: its dry run
		// returns the object without tenantgen's fields.
		merged := ref.Object()
		if err := p.dry.Apply(p.ctx, client.ApplyConfigurationFromUnstructured(merged), client.FieldOwner(fm), client.ForceOwnership); err != nil {
			return nil, err
		}
		ch.Merged, ch.Verb = merged, "released"
	case e.UID == "" && !apply.CreatedBy(live, fm):
		return nil, nil
	}
	return ch, nil
}

// fileName is kubectl diff's name for an object's file.
func fileName(u *unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	parts := []string{}
	if gvk.Group != "" {
		parts = append(parts, gvk.Group)
	}
	parts = append(parts, gvk.Version, gvk.Kind)
	if u.GetNamespace() != "" {
		parts = append(parts, u.GetNamespace())
	}
	return strings.Join(append(parts, u.GetName()), ".")
}

// Shown strips what every write changes and nobody edits: managed fields,
// status, resourceVersion, generation, uid, creationTimestamp, and the
// applied-hash annotation (it changes with every edit of the object).
func Shown(u *unstructured.Unstructured) map[string]any {
	if u == nil {
		return nil
	}
	obj := runtime.DeepCopyJSON(u.Object)
	delete(obj, "status")
	if md, ok := obj["metadata"].(map[string]any); ok {
		for _, k := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp"} {
			delete(md, k)
		}
		if ann, ok := md["annotations"].(map[string]any); ok {
			delete(ann, apply.AnnotationHash)
			if len(ann) == 0 {
				delete(md, "annotations")
			}
		}
	}
	return obj
}

// text is the YAML of what is shown of an object, "" for none.
func text(u *unstructured.Unstructured) (string, error) {
	if u == nil {
		return "", nil
	}
	b, err := yaml.Marshal(Shown(u))
	return string(b), err
}

func same(a, b *unstructured.Unstructured) bool {
	ta, err1 := text(a)
	tb, err2 := text(b)
	return err1 == nil && err2 == nil && ta == tb
}
