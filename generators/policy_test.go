package generators_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/manifest"
)

// Every catalog and sample GlobalTenantResource declares a write policy
// that fits exactly what it makes: it lists kinds and namespaces, every kind
// it allows appears in its golden output (the tests render every kind it
// can make; that they pass shows nothing it makes is refused), and a sample
// declares the same policy as the catalog entry it copies.
func TestPoliciesFitExactly(t *testing.T) {
	goldens, err := filepath.Glob("*/testdata/*.golden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join(samplesDir, "testdata", "*.golden.yaml"))
	items, err := manifest.ReadPaths(append(goldens, more...))
	if err != nil {
		t.Fatal(err)
	}
	rendered := map[string]map[v1alpha1.GroupKind]bool{} // GTR name -> kinds seen in goldens
	for _, it := range items {
		name := it.Object.GetLabels()[v1alpha1.LabelGlobalTenantResource]
		if rendered[name] == nil {
			rendered[name] = map[v1alpha1.GroupKind]bool{}
		}
		gv, _ := schema.ParseGroupVersion(it.Object.GetAPIVersion())
		rendered[name][v1alpha1.GroupKind{Group: gv.Group, Kind: it.Object.GetKind()}] = true
	}
	catalog := map[string]*v1alpha1.Policy{}
	for _, g := range catalogGTRs(t) {
		catalog[g.Name] = g.Spec.Policy
	}
	all := catalogGTRs(t)
	for _, f := range sampleFiles(t) {
		all = append(all, loadGTRs(t, []string{f})...)
	}
	for _, g := range all {
		p := g.Spec.Policy
		if p == nil || len(p.AllowedKinds) == 0 || len(p.AllowedNamespaces) == 0 {
			t.Errorf("%s: globaltenantresource %q declares no spec.policy with allowedKinds and allowedNamespaces", g.source, g.Name)
			continue
		}
		for _, k := range p.AllowedKinds {
			if k.Kind == "*" {
				t.Errorf("%s: %q allows every kind of group %q: list the kinds it makes", g.source, g.Name, k.Group)
			} else if !rendered[g.Name][k] {
				t.Errorf("%s: %q allows %s/%s, which none of its golden outputs holds", g.source, g.Name, k.Group, k.Kind)
			}
		}
		for _, ns := range p.AllowedNamespaces {
			if strings.Contains(ns, "*") {
				t.Errorf("%s: %q allows the namespaces %q: name them", g.source, g.Name, ns)
			}
		}
		if c, ok := catalog[g.Name]; ok && !reflect.DeepEqual(c, p) {
			t.Errorf("%s: %q declares policy %+v, its catalog entry %+v", g.source, g.Name, *p, *c)
		}
	}
}
