package render

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/budget"
	"github.com/projectcapsule/tenantgen/pkg/manifest"
	"github.com/projectcapsule/tenantgen/pkg/policy"
	"github.com/projectcapsule/tenantgen/pkg/tenant"
)

// Object is one rendered object with what the controller needs to apply it.
type Object struct {
	*unstructured.Unstructured
	// Tenant the object was rendered for ("" in scope None).
	Tenant string
	// Origin is the item or generator that produced it, e.g. "resources[0].generators[1]".
	Origin string
	// Namespaced tells whether the kind is namespaced.
	Namespaced bool
	// target is the namespace rendered into in scope Namespace.
	target string
}

// Ref names the object for messages: "Kind namespace/name" or "Kind name".
func (o Object) Ref() string {
	if ns := o.GetNamespace(); ns != "" {
		return o.GetKind() + " " + ns + "/" + o.GetName()
	}
	return o.GetKind() + " " + o.GetName()
}

// Output is what one render produced: its objects in apply order.
type Output struct {
	// Tenant rendered for ("" in scope None).
	Tenant  string
	Objects []Object
}

// Tenant renders the program for one tenant (scope Tenant or Namespace). It
// returns Errors when anything failed; a failed render returns no objects, so a
// caller never prunes on the strength of a partial result.
func (p *Program) Tenant(w World, t *tenant.Tenant) (*Output, error) {
	if p.scope == v1alpha1.ScopeNone {
		return nil, Errors{{GTR: p.name, Tenant: t.Name, Msg: "scope None renders once for the cluster, not per tenant"}}
	}
	return p.run(w, t, nil)
}

// Cluster renders a scope None program once; templates see the selected
// tenants as $.tenants.
func (p *Program) Cluster(w World, tenants []*tenant.Tenant) (*Output, error) {
	if p.scope != v1alpha1.ScopeNone {
		return nil, Errors{{GTR: p.name, Msg: "scope " + string(p.scope) + " renders per tenant, not once for the cluster"}}
	}
	return p.run(w, nil, tenants)
}

// run is the state of one render.
type run struct {
	p       *Program
	w       World
	t       *tenant.Tenant // nil in scope None
	tenants []*tenant.Tenant
	budget  *budget.Budget
	objects []Object
	errs    Errors
	seen    map[objectKey]string
}

type objectKey struct {
	group, kind, namespace, name string
}

// target is one place a block renders into: the tenant (ns nil) or one of its namespaces.
type target struct {
	ns   *tenant.Namespace
	vars vars
}

func (p *Program) run(w World, t *tenant.Tenant, tenants []*tenant.Tenant) (*Output, error) {
	r := &run{p: p, w: w, t: t, tenants: tenants, budget: budget.New(p.timeout, budget.DefaultMemory), seen: map[objectKey]string{}}
	for _, b := range p.blocks {
		for _, tg := range r.targets(b) {
			if !r.block(b, tg) {
				break
			}
		}
		if r.budget.Err() != nil {
			break
		}
	}
	if r.budget.Err() == nil {
		r.enforce() // also when something else failed: every refusal is worth reporting
	}
	if len(r.errs) > 0 {
		return nil, r.errs
	}
	sort.SliceStable(r.objects, func(i, j int) bool { return applyClass(r.objects[i]) < applyClass(r.objects[j]) })
	out := &Output{Objects: r.objects}
	if t != nil {
		out.Tenant = t.Name
	}
	return out, nil
}

// enforce checks the rendered objects against the write policy: one
// violation fails the whole render, so nothing of it is applied or pruned.
func (r *run) enforce() {
	in := policy.Input{Owner: r.w.NamespaceOwner, Objects: make([]policy.Object, len(r.objects))}
	if r.t != nil {
		in.Tenant = r.t.Name
	}
	for i, o := range r.objects {
		gvk := o.GroupVersionKind()
		in.Objects[i] = policy.Object{Group: gvk.Group, Kind: gvk.Kind, Namespace: o.GetNamespace(), Name: o.GetName(), Namespaced: o.Namespaced, Target: o.target}
	}
	for _, v := range r.p.policy.Check(in) {
		o := r.objects[v.Index]
		r.fail(&Error{Namespace: o.target, Origin: o.Origin, Object: o.Ref(), Msg: "refused by the write policy: " + v.Rule})
	}
}

// fail records an error, filling in what the run knows.
func (r *run) fail(e *Error) {
	e.GTR = r.p.name
	if r.t != nil {
		e.Tenant = r.t.Name
	}
	r.errs = append(r.errs, e)
}

func (r *run) targets(b *block) []target {
	switch r.p.scope {
	case v1alpha1.ScopeNone:
		return []target{{vars: vars{}}}
	case v1alpha1.ScopeTenant:
		return []target{{vars: vars{keyTenantName: r.t.Name}}}
	}
	var out []target
	for i := range r.t.Namespaces {
		ns := &r.t.Namespaces[i]
		if b.nsSel == nil || b.nsSel.Matches(labels.Set(ns.Labels)) {
			out = append(out, target{ns: ns, vars: vars{keyTenantName: r.t.Name, keyNamespace: ns.Name}})
		}
	}
	return out
}

// block renders one block into one target. It returns false once the
// render's budget is exhausted: nothing more is rendered after that.
func (r *run) block(b *block, tg target) bool {
	nsName := ""
	if tg.ns != nil {
		nsName = tg.ns.Name
	}
	failAt := func(origin string, err error) {
		e := &Error{}
		if !errors.As(err, &e) {
			e = &Error{Msg: err.Error()}
		}
		e.Namespace, e.Origin = nsName, origin
		r.fail(e)
	}
	for j, ref := range b.items {
		origin := b.origin("namespacedItems", j)
		objs, err := r.lookup(ref, tg)
		if err != nil {
			failAt(origin, err)
			continue
		}
		for _, src := range objs {
			if !r.add(b, tg, origin, copyItem(src)) {
				return false
			}
		}
	}
	for j, raw := range b.raw {
		obj, err := tg.vars.expandValue(runtime.DeepCopyJSON(raw))
		if err != nil {
			failAt(b.origin("rawItems", j), err)
			continue
		}
		if !r.add(b, tg, b.origin("rawItems", j), &unstructured.Unstructured{Object: obj.(map[string]any)}) {
			return false
		}
	}
	if len(b.templates) == 0 {
		return true
	}
	data, err := r.data(b, tg)
	if err != nil {
		failAt("resources["+strconv.Itoa(b.index)+"].context", err)
		return true
	}
	for j, tmpl := range b.templates {
		origin := b.origin("generators", j)
		out := &limitedBuffer{budget: r.budget}
		if err := tmpl.execute(out, data, r.budget); err != nil {
			e := templateError(err)
			e.Excerpt = excerpt(tmpl.source, e.Line)
			failAt(origin, e)
			if r.budget.Err() != nil {
				return false
			}
			continue
		}
		// Decoding is charged to the same budget, one document at a time, and
		// stops at the first document beyond limits.maxObjectsPerTenant.
		for doc := range manifest.Documents(manifest.Normalize(out.String())) {
			if err := r.budget.Charge(decodeFactor * int64(len(doc.Text))); err != nil {
				failAt(origin, &Error{OutputLine: doc.Line, Msg: err.Error(), Limit: limitOf(err)})
				return false
			}
			obj, err := manifest.Decode(doc)
			if err != nil {
				var me *manifest.Error
				errors.As(err, &me)
				failAt(origin, &Error{OutputLine: me.Line, Msg: me.Msg, Excerpt: me.Excerpt})
				continue
			}
			if !r.add(b, tg, origin, obj) {
				return false
			}
		}
	}
	return true
}

// data builds the template data of one target: $.tenant, $.namespace (scope
// Namespace), $.tenants (scope None) and one key per context index. Everything
// is deep-copied because sprig's set/unset mutate maps in place, and the
// World's objects are shared (the controller's cache).
func (r *run) data(b *block, tg target) (map[string]any, error) {
	data := map[string]any{}
	if r.t != nil {
		data["tenant"] = runtime.DeepCopyJSON(r.t.Object)
	}
	if tg.ns != nil {
		data["namespace"] = runtime.DeepCopyJSON(tg.ns.Object)
	}
	if r.p.scope == v1alpha1.ScopeNone {
		list := make([]any, len(r.tenants))
		for i, t := range r.tenants {
			list[i] = runtime.DeepCopyJSON(t.Object)
		}
		data["tenants"] = list
	}
	for _, c := range b.context {
		objs, err := r.lookup(c.ObjectReference, tg)
		if err != nil {
			return nil, fmt.Errorf("context %q: %w", c.Index, err)
		}
		if c.Name != "" {
			if len(objs) == 0 {
				data[c.Index] = map[string]any{} // optional and absent: falsy, never missing
			} else {
				data[c.Index] = runtime.DeepCopyJSON(objs[0].Object)
			}
			continue
		}
		list := make([]any, len(objs))
		for i, o := range objs {
			list[i] = runtime.DeepCopyJSON(o.Object)
		}
		data[c.Index] = list
	}
	return data, nil
}

// lookup finds the objects a reference names, sorted by namespace and name.
//
// Where a namespaced reference has no namespace, what it may see depends on the
// scope: in Tenant scope only the tenant's own namespaces (so a route a tenant
// labels with another tenant's name never reaches that tenant's objects), in
// Namespace scope the namespace rendered into, in None scope every namespace.
func (r *run) lookup(ref v1alpha1.ObjectReference, tg target) ([]*unstructured.Unstructured, error) {
	gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
	namespaced, err := r.w.Namespaced(gvk)
	if errors.Is(err, ErrUnknownKind) && ref.Optional {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", ref.APIVersion, ref.Kind, err)
	}
	sel, err := tg.vars.selector(ref.Selector)
	if err != nil {
		return nil, fmt.Errorf("selector: %w", err)
	}
	var namespaces []string
	switch {
	case !namespaced:
		namespaces = []string{""}
	case ref.Namespace != "":
		namespaces = []string{tg.vars.expand(ref.Namespace)}
	case r.p.scope == v1alpha1.ScopeNamespace:
		namespaces = []string{tg.ns.Name}
	case r.p.scope == v1alpha1.ScopeTenant:
		for _, ns := range r.t.Namespaces {
			namespaces = append(namespaces, ns.Name)
		}
	default:
		namespaces = []string{""}
	}
	name := tg.vars.expand(ref.Name)
	var out []*unstructured.Unstructured
	for _, ns := range namespaces {
		objs, err := r.w.List(gvk, ns, sel)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", ref.Kind, err)
		}
		for _, o := range objs {
			if name == "" || o.GetName() == name {
				out = append(out, o)
			}
		}
	}
	if name != "" && len(out) == 0 && !ref.Optional {
		where := ""
		if len(namespaces) == 1 && namespaces[0] != "" {
			where = " in namespace " + namespaces[0]
		}
		return nil, fmt.Errorf("%s %q not found%s (set optional: true if it may be absent)", ref.Kind, name, where)
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := out[i].GetNamespace(), out[j].GetNamespace(); a != b {
			return a < b
		}
		return out[i].GetName() < out[j].GetName()
	})
	return out, nil
}

// copyItem makes the copy of an existing object that namespacedItems place in
// a target: its kind, name, labels, annotations and content, without the
// source's identity (uid, resourceVersion, managedFields...) or status.
func copyItem(src *unstructured.Unstructured) *unstructured.Unstructured {
	obj := map[string]any{}
	for k, v := range src.Object {
		if k != "metadata" && k != "status" {
			obj[k] = runtime.DeepCopyJSONValue(v)
		}
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetName(src.GetName())
	if l := src.GetLabels(); len(l) > 0 {
		u.SetLabels(l)
	}
	a := src.GetAnnotations()
	delete(a, "kubectl.kubernetes.io/last-applied-configuration")
	if len(a) > 0 {
		u.SetAnnotations(a)
	}
	return u
}

// add places one rendered object: checks its kind and namespace against the
// scope, merges additionalMetadata, sets the ownership marks and records it
// (where it may land is decided for all objects at once, see enforce). It
// returns false when the object is one more than limits.maxObjectsPerTenant
// allows: the render stops there.
func (r *run) add(b *block, tg target, origin string, u *unstructured.Unstructured) bool {
	if len(r.objects) >= r.p.maxObjects {
		err := r.budget.Exceed(budget.LimitObjects, "more than %d objects rendered", r.p.maxObjects)
		r.fail(&Error{Origin: origin, Msg: err.Error(), Limit: budget.LimitObjects})
		return false
	}
	r.place(b, tg, origin, u)
	return true
}

func (r *run) place(b *block, tg target, origin string, u *unstructured.Unstructured) {
	nsName := ""
	if tg.ns != nil {
		nsName = tg.ns.Name
	}
	fail := func(format string, args ...any) {
		r.fail(&Error{Namespace: nsName, Origin: origin, Object: Object{Unstructured: u}.Ref(), Msg: fmt.Sprintf(format, args...)})
	}
	gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
	if err != nil {
		fail("apiVersion: %v", err)
		return
	}
	gvk := gv.WithKind(u.GetKind())
	namespaced, err := r.w.Namespaced(gvk)
	if err != nil {
		fail("%s: %v", u.GetAPIVersion(), err)
		return
	}
	switch {
	case !namespaced:
		u.SetNamespace("")
	case tg.ns != nil:
		u.SetNamespace(tg.ns.Name) // scope Namespace forces the target namespace
	case u.GetNamespace() == "":
		msg := fmt.Sprintf("metadata.namespace is required for a namespaced kind in scope %s", r.p.scope)
		if h, ok := r.w.(ScopeHinter); ok {
			if hint := h.ScopeHint(gvk); hint != "" {
				msg += "; " + hint
			}
		}
		fail("%s", msg)
		return
	}
	// Where an object may land is the policy's to say (see enforce); a
	// Namespace's tenant label is ours, as it decides who owns it.
	if r.t != nil && gvk.Group == "" && gvk.Kind == "Namespace" {
		if l := u.GetLabels()[tenant.LabelTenant]; l != "" && l != r.t.Name {
			fail("a Namespace rendered for tenant %q must not be labelled %s=%s", r.t.Name, tenant.LabelTenant, l)
			return
		}
	}
	if m := b.meta; m != nil {
		l, err := mergeMissing(u.GetLabels(), m.Labels, tg.vars)
		if err != nil {
			fail("additionalMetadata.labels: %v", err)
			return
		}
		a, err := mergeMissing(u.GetAnnotations(), m.Annotations, tg.vars)
		if err != nil {
			fail("additionalMetadata.annotations: %v", err)
			return
		}
		u.SetLabels(l)
		u.SetAnnotations(a)
	}
	marks := u.GetLabels()
	if marks == nil {
		marks = map[string]string{}
	}
	marks[v1alpha1.LabelGlobalTenantResource] = r.p.name
	if r.t != nil {
		marks[v1alpha1.LabelTenant] = r.t.Name
	} else {
		delete(marks, v1alpha1.LabelTenant)
	}
	u.SetLabels(marks)

	key := objectKey{gvk.Group, gvk.Kind, u.GetNamespace(), u.GetName()}
	if first, dup := r.seen[key]; dup {
		fail("rendered twice: %s already rendered it", first)
		return
	}
	r.seen[key] = origin
	o := Object{Unstructured: u, Origin: origin, Namespaced: namespaced, target: nsName}
	if r.t != nil {
		o.Tenant = r.t.Name
	}
	r.objects = append(r.objects, o)
}

// mergeMissing adds the expanded extra entries whose keys the object does not
// set itself: what a template says about one object is more specific than
// what additionalMetadata says about all of them. Two extra keys that expand
// to one are an error, as in expandValue.
func mergeMissing(have, extra map[string]string, v vars) (map[string]string, error) {
	if len(extra) == 0 {
		return have, nil
	}
	if have == nil {
		have = map[string]string{}
	}
	add := make(map[string]string, len(extra))
	from := make(map[string]string, len(extra))
	for k, val := range extra {
		nk := v.expand(k)
		if other, dup := from[nk]; dup {
			return nil, collision(k, other, nk)
		}
		from[nk] = k
		if _, ok := have[nk]; !ok {
			add[nk] = v.expand(val)
		}
	}
	for k, val := range add {
		have[k] = val
	}
	return have, nil
}

// applyClass orders objects for apply: Namespaces, then CRDs, then other
// cluster-scoped objects, then namespaced ones, so that everything an object
// needs exists before it.
func applyClass(o Object) int {
	gvk := o.GroupVersionKind()
	switch {
	case gvk.Group == "" && gvk.Kind == "Namespace":
		return 0
	case gvk.Group == "apiextensions.k8s.io" && gvk.Kind == "CustomResourceDefinition":
		return 1
	case !o.Namespaced:
		return 2
	}
	return 3
}

// Sort puts objects of several renders in apply order, keeping the order
// within a class.
func Sort(objs []Object) {
	sort.SliceStable(objs, func(i, j int) bool { return applyClass(objs[i]) < applyClass(objs[j]) })
}

// limitedBuffer collects template output, charging it to the render's
// budget, and stops execution beyond maxOutputBytes.
type limitedBuffer struct {
	bytes.Buffer
	budget *budget.Budget
}

// decodeFactor is what decoding a document costs per byte of its text
// that stays allocated: BenchmarkDecodeCost measures 7.9 (and 39 in total,
// most of it garbage the moment the document is decoded).
const decodeFactor = 8

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxOutputBytes {
		return 0, b.budget.Exceed(budget.LimitOutput, "a generator printed more than %s", budget.Size(maxOutputBytes))
	}
	// The buffer grows by doubling: charge what that allocates.
	if err := b.budget.Charge(2 * int64(len(p))); err != nil {
		return 0, err
	}
	return b.Buffer.Write(p)
}

// limitOf names the budget limit an error hit, "" if none.
func limitOf(err error) string {
	var ex *budget.Exceeded
	if errors.As(err, &ex) {
		return ex.Limit
	}
	return ""
}

// templateErrRE matches text/template's "template: NAME:LINE:COL: MSG" and
// "template: NAME:LINE: MSG".
var templateErrRE = regexp.MustCompile(`^template: [^:]*:(\d+)(?::\d+)?: (?s)(.*)$`)

// execPrefixRE drops the redundant `executing "NAME" ` from execution errors.
var execPrefixRE = regexp.MustCompile(`executing "[^"]*" `)

// internalRE matches what text/template says about the functions the
// instrumentation added: "at <tenantgen_present>: error calling tenantgen_present: ".
var internalRE = regexp.MustCompile(`(?:at <` + internalPrefix + `\w*>: )?error calling ` + internalPrefix + `\w*: `)

// internalStageRE matches the stage instrument appends to an action, as
// text/template prints the action in an error: `<.x | tenantgen_present>`.
var internalStageRE = regexp.MustCompile(` \| ` + internalPrefix + `\w*`)

// templateError turns a text/template error into an Error with its line.
func templateError(err error) *Error {
	msg := err.Error()
	e := &Error{Msg: msg}
	if m := templateErrRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = execPrefixRE.ReplaceAllString(m[2], "")
		// The author's own words (required, fail) need no wrapping in the
		// action that said them; for a printed nil the action says which
		// expression it was, so only the function name goes.
		if m := ownMessageRE.FindStringSubmatch(e.Msg); m != nil {
			e.Msg = m[1]
		}
		e.Msg = internalRE.ReplaceAllString(e.Msg, "")
		// text/template quotes the failing action with its whole pipeline,
		// the appended stage included: quote it as the author wrote it.
		e.Msg = internalStageRE.ReplaceAllString(e.Msg, "")
	}
	var ex *budget.Exceeded
	if errors.As(err, &ex) {
		// Where the limit was hit is worth knowing (the line), what the
		// template was doing there is not: say the limit.
		e.Msg, e.Limit = ex.Error(), ex.Limit
	}
	return e
}

// ownMessageRE matches errors whose text the template author wrote.
var ownMessageRE = regexp.MustCompile(`^(?s)at <.*>: error calling (?:required|fail): (.*)$`)

// excerpt quotes a template around a 1-based line.
func excerpt(text string, line int) string {
	if line <= 0 {
		return ""
	}
	return manifest.Excerpt(text, 1, line)
}
