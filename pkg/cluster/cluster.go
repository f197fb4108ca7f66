// Package cluster reads a live cluster for `tenantgen render --kubeconfig` and
// `tenantgen diff`: Capsule tenants, namespaces, context objects, the
// GlobalTenantResources and their TenantInventories, with the kubeconfig's
// identity. It never writes; the only requests other than reads that diff
// sends go through DryRun, which marks every one of them dryRun=All.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/controller"
	"github.com/projectcapsule/tenantgen/pkg/inventory"
	"github.com/projectcapsule/tenantgen/pkg/manifest"
	"github.com/projectcapsule/tenantgen/pkg/render"
	"github.com/projectcapsule/tenantgen/pkg/snapshot"
	"github.com/projectcapsule/tenantgen/pkg/tenant"
)

// KubeconfigHelp states client-go's loading order, which Config follows.
const KubeconfigHelp = "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then the in-cluster config)"

// ContextHelp is the help of --context.
const ContextHelp = "kubeconfig context to use (default: the kubeconfig's current context)"

// Config loads a client configuration with client-go's rules, so that the
// precedence is exactly kubectl's: the explicit file, then $KUBECONFIG (a
// list of files, merged), then ~/.kube/config, and the in-cluster config
// when none of them exists. kubeContext picks a context ("" the current one).
func Config(kubeconfig, kubeContext string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: kubeContext}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	return cfg, nil
}

// Cluster is a read-only view of a live cluster. It implements
// snapshot.Cluster (and so render.World). Every kind is listed once,
// cluster-wide, and filtered here, so rendering many tenants costs one
// request per kind, as the controller's informers do.
type Cluster struct {
	// Client reads (and writes, which nothing in tenantgen's preview does).
	Client client.Client
	ctx    context.Context
	mapper meta.RESTMapper
	dir    *tenant.Directory
	nss    map[string]bool
	lists  map[schema.GroupVersionKind][]*unstructured.Unstructured
}

var _ snapshot.Cluster = (*Cluster)(nil)

// Connect reads the cluster's tenants and namespaces. ctx bounds every
// later read too.
func Connect(ctx context.Context, cfg *rest.Config) (*Cluster, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("discovering the cluster's kinds: %w", err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: controller.Scheme(), Mapper: mapper, HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	c := &Cluster{Client: cl, ctx: ctx, mapper: mapper, nss: map[string]bool{},
		lists: map[schema.GroupVersionKind][]*unstructured.Unstructured{}}
	tenants, err := c.listAll(tenant.GVK)
	if errors.Is(err, render.ErrUnknownKind) {
		return nil, fmt.Errorf("the cluster does not serve Capsule's Tenant (%s): is Capsule installed?", tenant.GVK.GroupVersion())
	}
	if err != nil {
		return nil, fmt.Errorf("reading tenants: %w", err)
	}
	namespaces, err := c.listAll(tenant.NamespaceGVK)
	if err != nil {
		return nil, fmt.Errorf("reading namespaces: %w", err)
	}
	for _, ns := range namespaces {
		c.nss[ns.GetName()] = true
	}
	c.dir = tenant.NewDirectory(tenants, namespaces)
	return c, nil
}

// Tenants implements snapshot.Cluster.
func (c *Cluster) Tenants() *tenant.Directory { return c.dir }

// NamespaceExists implements snapshot.Cluster.
func (c *Cluster) NamespaceExists(name string) bool { return c.nss[name] }

// NamespaceOwner implements render.World.
func (c *Cluster) NamespaceOwner(namespace string) string { return c.dir.Owner(namespace) }

// Namespaced implements render.World from discovery, as the controller does.
func (c *Cluster) Namespaced(gvk schema.GroupVersionKind) (bool, error) {
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		return false, render.ErrUnknownKind
	}
	if err != nil {
		return false, err
	}
	return m.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

// List implements render.World.
func (c *Cluster) List(gvk schema.GroupVersionKind, namespace string, sel labels.Selector) ([]*unstructured.Unstructured, error) {
	all, err := c.listAll(gvk)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, o := range all {
		if (namespace == "" || o.GetNamespace() == namespace) && sel.Matches(labels.Set(o.GetLabels())) {
			out = append(out, o)
		}
	}
	return out, nil
}

func (c *Cluster) listAll(gvk schema.GroupVersionKind) ([]*unstructured.Unstructured, error) {
	if l, ok := c.lists[gvk]; ok {
		return l, nil
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	err := c.Client.List(c.ctx, list)
	switch {
	case meta.IsNoMatchError(err) || apierrors.IsNotFound(err):
		return nil, render.ErrUnknownKind
	case apierrors.IsForbidden(err):
		return nil, fmt.Errorf("you may not list %s (%s) cluster-wide, which the render reads: %w", gvk.Kind, gvk.GroupVersion(), err)
	case err != nil:
		return nil, fmt.Errorf("listing %s (%s): %w", gvk.Kind, gvk.GroupVersion(), err)
	}
	out := make([]*unstructured.Unstructured, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].GetNamespace() != out[j].GetNamespace() {
			return out[i].GetNamespace() < out[j].GetNamespace()
		}
		return out[i].GetName() < out[j].GetName()
	})
	c.lists[gvk] = out
	return out, nil
}

// Source is what errors about a GlobalTenantResource read from the cluster
// name as its file.
const Source = "cluster"

// GTRs returns the cluster's GlobalTenantResources as input items for
// snapshot.New, so that they are decoded as the ones from files are.
func (c *Cluster) GTRs() ([]manifest.Item, error) {
	list := &v1alpha1.GlobalTenantResourceList{}
	if err := c.Client.List(c.ctx, list); err != nil {
		return nil, fmt.Errorf("reading GlobalTenantResources: %w", err)
	}
	items := make([]manifest.Item, 0, len(list.Items))
	for i := range list.Items {
		g := &list.Items[i]
		g.APIVersion, g.Kind = v1alpha1.GroupVersion.String(), "GlobalTenantResource"
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(g)
		if err != nil {
			return nil, err
		}
		items = append(items, manifest.Item{Object: &unstructured.Unstructured{Object: obj}, File: Source})
	}
	return items, nil
}

// Inventories returns the TenantInventories of a GlobalTenantResource, by
// tenant ("" in scope None). An inventory whose name and label match but
// whose spec names another pair (a name collision) is left out, as the
// controller leaves it. Objects a crash left unrecorded are added as
// entries without uid, where the controller's next start puts them.
func (c *Cluster) Inventories(gtr string) (map[string]*v1alpha1.TenantInventory, error) {
	list := &v1alpha1.TenantInventoryList{}
	if err := c.Client.List(c.ctx, list, client.MatchingLabels{v1alpha1.LabelGlobalTenantResource: gtr}); err != nil {
		if meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("the cluster does not serve TenantInventory (%s): is tenantgen installed? %w", v1alpha1.GroupVersion, err)
		}
		return nil, fmt.Errorf("reading the TenantInventories of globaltenantresource %q: %w", gtr, err)
	}
	out := map[string]*v1alpha1.TenantInventory{}
	for i := range list.Items {
		inv := &list.Items[i]
		if inventory.Belongs(inv, gtr, inv.Spec.Tenant) && inv.Name == inventory.Name(gtr, inv.Spec.Tenant) {
			out[inv.Spec.Tenant] = inv
		}
	}
	found, err := c.unrecorded(gtr, out)
	if err != nil {
		return nil, err
	}
	for t, entries := range found {
		inv := out[t]
		if inv == nil {
			inv = &v1alpha1.TenantInventory{Spec: v1alpha1.TenantInventorySpec{GlobalTenantResource: gtr, Tenant: t}}
		} else {
			inv = inv.DeepCopy()
		}
		inv.Status.Entries = append(inv.Status.Entries, entries...)
		out[t] = inv
	}
	return out, nil
}

// unrecorded finds what the controller's next start adds to the inventories
// (see inventory.Unrecorded): objects of the kinds the live
// GlobalTenantResource's status.generatedKinds lists, carrying its label,
// that no inventory lists because a crash came between their apply and the
// inventory write. A diff shows their prune as the controller would do it.
func (c *Cluster) unrecorded(gtr string, invs map[string]*v1alpha1.TenantInventory) (map[string][]v1alpha1.InventoryEntry, error) {
	g := &v1alpha1.GlobalTenantResource{}
	if err := c.Client.Get(c.ctx, client.ObjectKey{Name: gtr}, g); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil // a new GlobalTenantResource: nothing applied yet
		}
		return nil, fmt.Errorf("reading globaltenantresource %q: %w", gtr, err)
	}
	live, err := inventory.Labelled(c.ctx, c.Client, c.Client.RESTMapper(), gtr, g.Status.GeneratedKinds, nil)
	if err != nil {
		return nil, err
	}
	return inventory.Unrecorded(invs, live), nil
}

// Get returns the live object probe names, nil when there is none.
func (c *Cluster) Get(ctx context.Context, probe *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(probe.GroupVersionKind())
	err := c.Client.Get(ctx, client.ObjectKeyFromObject(probe), u)
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// DryRun is a client whose every write is a server-side dry run.
func (c *Cluster) DryRun() client.Client { return client.NewDryRunClient(c.Client) }

// Snapshot builds the snapshot a live render uses: the GlobalTenantResources
// of items (from files; the cluster's own when items is empty), and
// everything else read from the cluster. Other objects in items are left
// out, with a warning each: the cluster's tenants and context are the ones
// the controller would see.
func (c *Cluster) Snapshot(items []manifest.Item) (*snapshot.Snapshot, []string, error) {
	var gtrs []manifest.Item
	var warnings []string
	for _, it := range items {
		gk := it.Object.GroupVersionKind().GroupKind()
		if gk.Kind == "GlobalTenantResource" && (gk.Group == v1alpha1.Group || gk.Group == tenant.Group) {
			gtrs = append(gtrs, it)
			continue
		}
		warnings = append(warnings, fmt.Sprintf("%s: %s %s ignored: with a cluster, only GlobalTenantResources are read from files (tenants, namespaces and context come from the cluster)",
			it.Source(), it.Object.GetKind(), it.Object.GetName()))
	}
	if len(items) == 0 {
		var err error
		if gtrs, err = c.GTRs(); err != nil {
			return nil, nil, err
		}
	}
	snap, err := snapshot.New(gtrs)
	if err != nil {
		return nil, nil, err
	}
	snap.Over(c)
	return snap, warnings, nil
}
