// Package policy decides whether a GlobalTenantResource may write what it
// rendered: its kinds and where they land. It is pure: the caller gives the
// scope, the tenant, the tenant's namespaces, who owns a namespace and the
// rendered objects; the policy answers with the violations.
//
// The rules, in order:
//
//  1. Kinds. With spec.policy.allowedKinds every object's kind must be
//     listed ({group, kind}, kind "*" for a whole group). Without it,
//     namespaced kinds are allowed, and cluster-scoped kinds only in scope
//     None: a template fed with tenant data must not be one quoting mistake
//     away from a ClusterRoleBinding.
//  2. Other tenants. An object rendered for tenant A never lands in a
//     namespace tenant B owns (nor is a Namespace B owns), whatever the
//     policy says.
//  3. Namespaces. With spec.policy.allowedNamespaces a namespaced object (or
//     a Namespace, by its name) must land in a namespace matching a pattern.
//     Without it, kube-* namespaces are refused (they belong to the cluster)
//     and every other namespace that rule 2 leaves is allowed.
package policy

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

// Policy is a compiled spec.policy.
type Policy struct {
	scope      v1alpha1.Scope
	kinds      []v1alpha1.GroupKind // nil: the defaults of rule 1
	namespaces []string             // nil: the defaults of rule 3
}

// placeholderRE matches the placeholders a namespace pattern may hold, with
// the spellings rawItems accept ({{tenant.name}}, {{ tenant.name }}, {{- namespace -}}).
var placeholderRE = regexp.MustCompile(`\{\{-?\s*([A-Za-z_][A-Za-z0-9_.]*)\s*-?\}\}`)

// Compile checks a spec.policy (nil for none) for a scope. Errors name the field.
func Compile(scope v1alpha1.Scope, spec *v1alpha1.Policy) (*Policy, error) {
	p := &Policy{scope: scope}
	if spec == nil {
		return p, nil
	}
	if spec.AllowedKinds != nil {
		p.kinds = append([]v1alpha1.GroupKind{}, spec.AllowedKinds...)
	}
	for i, k := range spec.AllowedKinds {
		if k.Kind == "" {
			return nil, fmt.Errorf("spec.policy.allowedKinds[%d]: kind is required (\"*\" for the whole group)", i)
		}
	}
	for i, pat := range spec.AllowedNamespaces {
		for _, m := range placeholderRE.FindAllStringSubmatch(pat, -1) {
			switch {
			case m[1] == "tenant.name" && scope == v1alpha1.ScopeNone:
				return nil, fmt.Errorf("spec.policy.allowedNamespaces[%d]: %s is not available in scope None", i, m[0])
			case m[1] == "namespace" && scope != v1alpha1.ScopeNamespace:
				return nil, fmt.Errorf("spec.policy.allowedNamespaces[%d]: %s is only available in scope Namespace", i, m[0])
			case m[1] != "tenant.name" && m[1] != "namespace":
				return nil, fmt.Errorf("spec.policy.allowedNamespaces[%d]: unknown placeholder %s", i, m[0])
			}
		}
		if _, err := path.Match(strings.ReplaceAll(pat, "{{", ""), ""); err != nil {
			return nil, fmt.Errorf("spec.policy.allowedNamespaces[%d]: %q is not a pattern: %v", i, pat, err)
		}
	}
	if spec.AllowedNamespaces != nil {
		p.namespaces = append([]string{}, spec.AllowedNamespaces...)
	}
	return p, nil
}

// Object is what the policy needs to know of one rendered object.
type Object struct {
	Group, Kind, Namespace, Name string
	// Namespaced tells whether the kind is namespaced.
	Namespaced bool
	// Target is the namespace rendered into in scope Namespace ({{namespace}}).
	Target string
}

// Ref names the object for messages.
func (o Object) Ref() string {
	if o.Namespace != "" {
		return o.Kind + " " + o.Namespace + "/" + o.Name
	}
	return o.Kind + " " + o.Name
}

// Input is one render to decide on.
type Input struct {
	// Tenant rendered for, "" in scope None.
	Tenant string
	// Owner returns the tenant a namespace belongs to, "" for none.
	Owner func(namespace string) string
	// Objects are the rendered objects.
	Objects []Object
}

// Violation is one object the policy refuses, and why.
type Violation struct {
	// Index of the object in Input.Objects.
	Index int
	// Rule says which rule refused it, naming the field to change.
	Rule string
}

// Check returns the violations of a render, in object order; none means
// everything may be written.
func (p *Policy) Check(in Input) []Violation {
	var out []Violation
	for i, o := range in.Objects {
		if rule := p.check(in, o); rule != "" {
			out = append(out, Violation{Index: i, Rule: rule})
		}
	}
	return out
}

func (p *Policy) check(in Input, o Object) string {
	gk := o.Group + "/" + o.Kind
	if o.Group == "" {
		gk = o.Kind
	}
	switch {
	case p.kinds != nil && !p.kindAllowed(o):
		return fmt.Sprintf("kind %s is not in spec.policy.allowedKinds", gk)
	case p.kinds == nil && !o.Namespaced && p.scope != v1alpha1.ScopeNone:
		return fmt.Sprintf("%s is cluster-scoped: in scope %s a cluster-scoped kind needs an entry in spec.policy.allowedKinds", gk, p.scope)
	}
	// Where it lands: a namespaced object's namespace, a Namespace's name.
	where := o.Namespace
	if o.Group == "" && o.Kind == "Namespace" {
		where = o.Name
	}
	if where == "" {
		return ""
	}
	if in.Tenant != "" && in.Owner != nil {
		if owner := in.Owner(where); owner != "" && owner != in.Tenant {
			return fmt.Sprintf("namespace %q belongs to tenant %q; an object rendered for tenant %q may not land there", where, owner, in.Tenant)
		}
	}
	if p.namespaces == nil {
		if strings.HasPrefix(where, "kube-") {
			return fmt.Sprintf("namespace %q belongs to the cluster: list it in spec.policy.allowedNamespaces to write there", where)
		}
		return ""
	}
	for _, pat := range p.namespaces {
		if match(expand(pat, in.Tenant, o.Target), where) {
			return ""
		}
	}
	return fmt.Sprintf("namespace %q matches no pattern of spec.policy.allowedNamespaces %v", where, p.namespaces)
}

func (p *Policy) kindAllowed(o Object) bool {
	for _, k := range p.kinds {
		if k.Group == o.Group && (k.Kind == "*" || k.Kind == o.Kind) {
			return true
		}
	}
	return false
}

// expand substitutes the placeholders of a pattern. Their values are
// namespace and tenant names, which hold no glob characters.
func expand(pat, tenant, namespace string) string {
	if !strings.Contains(pat, "{{") {
		return pat
	}
	return placeholderRE.ReplaceAllStringFunc(pat, func(m string) string {
		if placeholderRE.FindStringSubmatch(m)[1] == "namespace" {
			return namespace
		}
		return tenant
	})
}

// match reports whether a namespace matches a glob pattern (* and ? and
// [ranges], as path.Match; names hold no '/').
func match(pat, name string) bool {
	ok, err := path.Match(pat, name)
	return err == nil && ok
}
