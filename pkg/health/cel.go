package health

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

// variables are the top-level fields of an object that expressions see.
// Binding every one, empty when the object lacks it, lets an expression test
// has(status.conditions) on an object whose controller has not written a
// status yet instead of failing on an unknown variable.
var variables = []string{"apiVersion", "kind", "metadata", "spec", "status", "data"}

// costLimit bounds one evaluation (CEL's cost units, about one per list
// element visited): generous for any real status, and a hard stop for an
// expression that would loop over a huge object in the controller's workers.
const costLimit = 1_000_000

// check is one compiled spec.healthChecks entry.
type check struct {
	// exprs in evaluation order: inProgress, failed, current (as Flux does),
	// so a stale or failing object never passes for current.
	exprs []expr
}

type expr struct {
	status Status
	field  string // healthChecks[i].current, for messages
	prg    cel.Program
}

var env = func() *cel.Env {
	opts := []cel.EnvOption{cel.OptionalTypes(), ext.Strings()}
	for _, v := range variables {
		opts = append(opts, cel.Variable(v, cel.DynType))
	}
	e, err := cel.NewEnv(opts...)
	if err != nil {
		panic(err) // a programming error: the options are fixed
	}
	return e
}()

// Compile checks spec.healthChecks and returns the Rules that apply them in
// front of the built-in ones. Every error names the entry and the field,
// e.g. healthChecks[0].current: ERROR: <input>:1:8: undeclared reference ...
func Compile(checks []v1alpha1.HealthCheck) (*Rules, error) {
	r := &Rules{custom: map[schema.GroupVersionKind]*check{}}
	var errs FieldErrors
	fail := func(field string, err error) { errs = append(errs, &FieldError{Field: field, Err: err}) }
	for i, hc := range checks {
		at := fmt.Sprintf("healthChecks[%d]", i)
		gv, err := schema.ParseGroupVersion(hc.APIVersion)
		if err != nil || gv.Version == "" {
			fail(at+".apiVersion", fmt.Errorf("%q is not group/version or version", hc.APIVersion))
			continue
		}
		gvk := gv.WithKind(hc.Kind)
		if r.custom[gvk] != nil {
			fail(at, fmt.Errorf("a second check for %s %s", hc.APIVersion, hc.Kind))
			continue
		}
		c := &check{}
		for _, e := range []struct {
			status Status
			name   string
			src    string
		}{{InProgress, "inProgress", hc.InProgress}, {Failed, "failed", hc.Failed}, {Current, "current", hc.Current}} {
			if e.src == "" {
				if e.status == Current {
					fail(at+".current", errors.New("is required"))
				}
				continue
			}
			field := at + "." + e.name
			prg, err := compileBool(e.src)
			if err != nil {
				fail(field, err)
				continue
			}
			c.exprs = append(c.exprs, expr{status: e.status, field: field, prg: prg})
		}
		r.custom[gvk] = c
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return r, nil
}

// FieldError is a problem with one field of spec.healthChecks.
type FieldError struct {
	Field string // e.g. healthChecks[0].current
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

// FieldErrors are all the problems Compile found.
type FieldErrors []*FieldError

func (e FieldErrors) Error() string {
	parts := make([]string, len(e))
	for i, fe := range e {
		parts[i] = fe.Error()
	}
	return strings.Join(parts, "\n")
}

func compileBool(src string) (cel.Program, error) {
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if t := ast.OutputType(); t != cel.BoolType && t != cel.DynType {
		return nil, fmt.Errorf("%q is of type %s, want bool", src, t)
	}
	return env.Program(ast, cel.CostLimit(costLimit), cel.InterruptCheckFrequency(100))
}

func (c *check) assess(u *unstructured.Unstructured) Result {
	vars := make(map[string]any, len(variables))
	for _, v := range variables {
		if x, ok := u.Object[v]; ok {
			vars[v] = x
		} else {
			vars[v] = map[string]any{}
		}
	}
	for _, e := range c.exprs {
		out, _, err := e.prg.Eval(vars)
		if err != nil {
			// Usually a field the object's controller has not written yet.
			return Result{Status: InProgress, Message: fmt.Sprintf("%s: %v", e.field, err)}
		}
		if b, ok := out.Value().(bool); ok && b {
			return Result{Status: e.status, Message: e.field + " is true"}
		} else if !ok {
			return Result{Status: InProgress, Message: fmt.Sprintf("%s returned %v, not a bool", e.field, out.Value())}
		}
	}
	return Result{Status: InProgress, Message: "no health check expression is true yet"}
}
