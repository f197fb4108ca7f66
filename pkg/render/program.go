// Package render is tenantgen's pure render core: from a GlobalTenantResource,
// a tenant and a read-only World it computes the objects to apply, in apply
// order, or errors that name the GlobalTenantResource, the tenant, the item and
// the template line. It does no I/O, so the controller and the CLI share it
// unchanged and its rules are unit-testable without a cluster.
package render

import (
	"errors"
	"fmt"
	"strconv"
	"text/template"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/health"
	"github.com/projectcapsule/tenantgen/pkg/manifest"
	"github.com/projectcapsule/tenantgen/pkg/policy"
	"github.com/projectcapsule/tenantgen/pkg/tenant"
)

// Defaults of spec.limits.
const (
	DefaultMaxObjectsPerTenant = 1000
	DefaultRenderTimeout       = 5 * time.Second
	// maxOutputBytes bounds one generator's output whatever the limits say, so a
	// runaway loop fails fast instead of eating the controller's memory.
	maxOutputBytes = 16 << 20
)

// Program is a GlobalTenantResource compiled for rendering: templates parsed,
// selectors and raw items decoded, placeholders checked. Compile it once per
// generation and render it for any number of tenants, concurrently if wanted.
type Program struct {
	name       string
	scope      v1alpha1.Scope
	tenants    labels.Selector
	blocks     []*block
	maxObjects int
	timeout    time.Duration
	policy     *policy.Policy
	health     *health.Rules
}

type block struct {
	index     int
	nsSel     labels.Selector // nil: every namespace of the tenant
	meta      *v1alpha1.AdditionalMetadata
	items     []v1alpha1.ObjectReference
	raw       []map[string]any
	context   []v1alpha1.ContextResource
	templates []*generatorTemplate
}

func (b *block) origin(kind string, i int) string {
	return "resources[" + strconv.Itoa(b.index) + "]." + kind + "[" + strconv.Itoa(i) + "]"
}

// Name is the GlobalTenantResource's name.
func (p *Program) Name() string { return p.name }

// Timeout is the render timeout (limits.renderTimeout or its default).
func (p *Program) Timeout() time.Duration { return p.timeout }

// Health returns the rules that decide whether a generated object is healthy
// (spec.healthChecks in front of the built-in rules).
func (p *Program) Health() *health.Rules { return p.health }

// Scope is the GlobalTenantResource's scope.
func (p *Program) Scope() v1alpha1.Scope { return p.scope }

// Selects reports whether the tenantSelector matches a tenant's labels.
func (p *Program) Selects(t *tenant.Tenant) bool { return p.tenants.Matches(labels.Set(t.Labels())) }

// References returns every object reference the program reads (context
// entries and namespacedItems), so a controller knows what to watch and which
// tenants a change concerns.
func (p *Program) References() []v1alpha1.ObjectReference {
	var out []v1alpha1.ObjectReference
	for _, b := range p.blocks {
		for _, c := range b.context {
			out = append(out, c.ObjectReference)
		}
		out = append(out, b.items...)
	}
	return out
}

// scopeVars returns the placeholder keys available in a scope, with values that
// are valid names so that selectors can be checked before any tenant is known.
func scopeVars(scope v1alpha1.Scope) vars {
	switch scope {
	case v1alpha1.ScopeNamespace:
		return vars{keyTenantName: "x", keyNamespace: "x"}
	case v1alpha1.ScopeTenant:
		return vars{keyTenantName: "x"}
	}
	return vars{}
}

// Compile checks a GlobalTenantResource and prepares it for rendering. Every
// error it returns is an Errors naming the field at fault.
func Compile(gtr *v1alpha1.GlobalTenantResource) (*Program, error) {
	spec := &gtr.Spec
	p := &Program{
		name:       gtr.Name,
		scope:      spec.ScopeOrDefault(),
		maxObjects: DefaultMaxObjectsPerTenant,
		timeout:    DefaultRenderTimeout,
	}
	var errs Errors
	fail := func(origin, format string, args ...any) {
		errs = append(errs, &Error{GTR: gtr.Name, Origin: origin, Msg: fmt.Sprintf(format, args...)})
	}
	switch p.scope {
	case v1alpha1.ScopeTenant, v1alpha1.ScopeNamespace, v1alpha1.ScopeNone:
	default:
		// Everything after depends on the scope (which placeholders exist,
		// what the policy allows): checked against a wrong one it would add
		// errors that are not the user's.
		fail("spec.scope", "unknown scope %q: use Tenant, Namespace or None", spec.Scope)
		return nil, errs
	}
	if l := spec.Limits.MaxObjectsPerTenant; l != nil {
		p.maxObjects = int(*l)
	}
	if t := spec.Limits.RenderTimeout; t != nil && t.Duration > 0 {
		p.timeout = t.Duration
	}
	pol, err := policy.Compile(p.scope, spec.Policy)
	if err != nil {
		fail("spec.policy", "%v", err)
	}
	p.policy = pol
	// Checked here, with the templates, so that render, test and the
	// controller refuse a bad expression alike, before anything is applied.
	if p.health, err = health.Compile(spec.HealthChecks); err != nil {
		var fes health.FieldErrors
		errors.As(err, &fes)
		for _, fe := range fes {
			fail("spec."+fe.Field, "%v", fe.Err)
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(&spec.TenantSelector)
	if err != nil {
		fail("spec.tenantSelector", "%v", err)
	}
	p.tenants = sel
	available := scopeVars(p.scope)

	for i := range spec.Resources {
		r := &spec.Resources[i]
		b := &block{index: i, meta: r.AdditionalMetadata, items: r.NamespacedItems}
		at := func(field string) string { return "resources[" + strconv.Itoa(i) + "]." + field }
		if r.NamespaceSelector != nil {
			if p.scope != v1alpha1.ScopeNamespace {
				fail(at("namespaceSelector"), "namespaceSelector is only allowed with scope Namespace")
			} else if b.nsSel, err = metav1.LabelSelectorAsSelector(r.NamespaceSelector); err != nil {
				fail(at("namespaceSelector"), "%v", err)
			}
		}
		if m := r.AdditionalMetadata; m != nil {
			for _, kv := range []map[string]string{m.Labels, m.Annotations} {
				if err := checkKeys(kv); err != nil {
					fail(at("additionalMetadata"), "%v", err)
				}
				for k, v := range kv {
					if err := checkPlaceholders(k+" "+v, available); err != nil {
						fail(at("additionalMetadata"), "%v", err)
					}
				}
			}
		}
		if len(r.NamespacedItems) > 0 && p.scope != v1alpha1.ScopeNamespace {
			fail(at("namespacedItems"), "namespacedItems are only allowed with scope Namespace (they are copied into each tenant namespace)")
		}
		for j, it := range r.NamespacedItems {
			origin := b.origin("namespacedItems", j)
			if it.Namespace == "" {
				fail(origin, "namespace is required: it names where the object is copied from")
			}
			if err := checkReference(it, available); err != nil {
				fail(origin, "%v", err)
			}
		}
		for j, raw := range r.RawItems {
			origin := b.origin("rawItems", j)
			var obj map[string]any
			if err := utiljson.Unmarshal(raw.Raw, &obj); err != nil || obj == nil {
				fail(origin, "not an object: %v", err)
				continue
			}
			if err := checkValue(obj, available); err != nil {
				fail(origin, "%v", err)
			}
			if missing := manifest.MissingIdentity(&unstructured.Unstructured{Object: obj}); missing != "" {
				fail(origin, "the object has no %s", missing)
			}
			b.raw = append(b.raw, obj)
		}
		if r.Context != nil {
			seen := map[string]bool{}
			for j, c := range r.Context.Resources {
				origin := at("context.resources[" + strconv.Itoa(j) + "]")
				switch {
				case !identifier(c.Index):
					fail(origin, "index %q is not an identifier usable as $.%s in templates", c.Index, c.Index)
				case c.Index == "tenant" || c.Index == "namespace" || c.Index == "tenants":
					fail(origin, "index %q is reserved", c.Index)
				case seen[c.Index]:
					fail(origin, "index %q is used twice in this resource", c.Index)
				}
				seen[c.Index] = true
				if err := checkReference(c.ObjectReference, available); err != nil {
					fail(origin, "%v", err)
				}
			}
			b.context = r.Context.Resources
		}
		for j, g := range r.Generators {
			origin := b.origin("generators", j)
			t, err := parseTemplate(origin, g)
			if err != nil {
				e := templateError(err)
				e.GTR, e.Origin = gtr.Name, origin
				if e.Line > 0 {
					e.Excerpt = excerpt(manifest.Normalize(g.Template), e.Line)
				}
				errs = append(errs, e)
				continue
			}
			b.templates = append(b.templates, t)
		}
		p.blocks = append(p.blocks, b)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

func identifier(s string) bool {
	for i, r := range s {
		if r != '_' && !(r >= 'a' && r <= 'z') && !(r >= 'A' && r <= 'Z') && !(i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

func checkReference(ref v1alpha1.ObjectReference, available vars) error {
	if _, err := schema.ParseGroupVersion(ref.APIVersion); err != nil || ref.APIVersion == "" || ref.Kind == "" {
		return fmt.Errorf("apiVersion %q and kind %q do not name a kind", ref.APIVersion, ref.Kind)
	}
	texts := []string{ref.Name, ref.Namespace}
	if s := ref.Selector; s != nil {
		if err := checkKeys(s.MatchLabels); err != nil {
			return fmt.Errorf("selector: %v", err)
		}
		for k, v := range s.MatchLabels {
			texts = append(texts, k, v)
		}
		for _, e := range s.MatchExpressions {
			texts = append(texts, e.Key)
			texts = append(texts, e.Values...)
		}
	}
	for _, t := range texts {
		if err := checkPlaceholders(t, available); err != nil {
			return err
		}
	}
	if _, err := available.selector(ref.Selector); err != nil {
		return fmt.Errorf("selector: %v", err)
	}
	return nil
}

// parseTemplate parses a generator and instruments it (see instrument).
// Line endings are made LF first: text/template counts lines by LF only, so
// a CR-only template would report every error on line 1, and YAML reads CR
// and CRLF as LF anyway.
func parseTemplate(name string, g v1alpha1.Generator) (*generatorTemplate, error) {
	mode := g.MissingKey
	if mode == "" {
		mode = v1alpha1.MissingKeyError
	}
	option := "missingkey="
	stage := outFunc
	switch mode {
	case v1alpha1.MissingKeyError:
		option += "error"
		stage = presentFunc
	case v1alpha1.MissingKeyZero:
		option += "zero"
		stage = zeroFunc
	case v1alpha1.MissingKeyInvalid:
		option += "default"
	default:
		return nil, fmt.Errorf("missingKey %q: use error, zero or invalid", g.MissingKey)
	}
	source := manifest.Normalize(g.Template)
	t, err := template.New(name).Option(option).Funcs(funcs).Parse(source)
	if err != nil {
		return nil, err
	}
	if err := checkNoInternal(t); err != nil {
		return nil, err
	}
	instrument(t, stage)
	return &generatorTemplate{base: t, source: source}, nil
}
