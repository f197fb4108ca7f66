package render

import (
	"fmt"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// The placeholders of rawItems, additionalMetadata, namespacedItems and context
// references, as in Capsule.
const (
	keyTenantName = "tenant.name"
	keyNamespace  = "namespace"
)

// placeholderRE matches {{ key }} where key is a dotted identifier. Go template
// actions such as "{{ .Values.x }}" or "{{ include "a" . }}" do not match, so a
// ConfigMap carrying a Helm template passes through untouched.
// Trim markers ({{- key -}}) are accepted: the whole placeholder is replaced.
var placeholderRE = regexp.MustCompile(`\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*-?\}\}`)

// goKeywords are the text/template keywords that can stand alone in braces.
// "{{ end }}" or "{{ else }}" in a rawItem belong to a Go template the object
// carries (a Helm chart in a ConfigMap, say), never to tenantgen, so they are
// not placeholders and pass through untouched.
var goKeywords = map[string]bool{"end": true, "else": true, "break": true, "continue": true, "nil": true, "true": true, "false": true}

// vars are the placeholder values of one render target.
type vars map[string]string

// checkPlaceholders reports the first placeholder in s that is unknown or not
// available in the given scope's vars.
func checkPlaceholders(s string, available vars) error {
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		if _, ok := available[m[1]]; ok || goKeywords[m[1]] {
			continue
		}
		switch m[1] {
		case keyTenantName:
			return fmt.Errorf("placeholder %s is not available in scope None (there is no tenant)", m[0])
		case keyNamespace:
			return fmt.Errorf("placeholder %s is only available in scope Namespace", m[0])
		}
		return fmt.Errorf("unknown placeholder %s: the known placeholders are {{tenant.name}} and {{namespace}}", m[0])
	}
	return nil
}

// expand substitutes placeholders in one string. Unknown keys are left as they
// are: every input was checked by checkPlaceholders when the program was compiled.
func (v vars) expand(s string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		if val, ok := v[placeholderRE.FindStringSubmatch(m)[1]]; ok {
			return val
		}
		return m
	})
}

// expandValue substitutes placeholders in every string key and value of a
// decoded object, in place. It works on parsed values, so a substituted value
// can never add YAML structure (no injected keys, no extra documents). Two
// keys of one map that expand to the same key are an error: which value won
// would depend on map order, and the object would change from run to run.
func (v vars) expandValue(x any) (any, error) {
	switch t := x.(type) {
	case string:
		return v.expand(t), nil
	case map[string]any:
		var renamed map[string]any
		var from map[string]string
		for k, val := range t {
			nv, err := v.expandValue(val)
			if err != nil {
				return nil, err
			}
			t[k] = nv
			if nk := v.expand(k); nk != k {
				if renamed == nil {
					renamed, from = map[string]any{}, map[string]string{}
				}
				if other, dup := from[nk]; dup {
					return nil, collision(k, other, nk)
				}
				renamed[nk], from[nk] = nv, k
				delete(t, k)
			}
		}
		for k, val := range renamed {
			if _, dup := t[k]; dup {
				return nil, collision(from[k], k, k)
			}
			t[k] = val
		}
		return t, nil
	case []any:
		for i := range t {
			nv, err := v.expandValue(t[i])
			if err != nil {
				return nil, err
			}
			t[i] = nv
		}
		return t, nil
	}
	return x, nil
}

// collision reports two keys that are one key once placeholders are
// substituted, naming them in a stable order.
func collision(a, b, key string) error {
	if b < a {
		a, b = b, a
	}
	return fmt.Errorf("keys %q and %q are both %q once placeholders are substituted", a, b, key)
}

// canonical spells every placeholder of s one way, so that keys that only
// differ in how they spell a placeholder ({{tenant.name}}, {{ tenant.name }},
// {{- tenant.name -}}) compare equal before any value is known.
func canonical(s string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		key := placeholderRE.FindStringSubmatch(m)[1]
		if key != keyTenantName && key != keyNamespace {
			return m // left alone by expand too: a Go template's, or unknown (a compile error)
		}
		return "{{" + key + "}}"
	})
}

// checkKeys fails on two keys of one map that spell the same placeholders
// differently: they would be one key in every render.
func checkKeys[V any](m map[string]V) error {
	var seen map[string]string
	for k := range m {
		c := canonical(k)
		if c == k && !strings.Contains(k, "{{") {
			continue
		}
		if seen == nil {
			seen = map[string]string{}
		}
		if other, dup := seen[c]; dup {
			return collision(k, other, c)
		}
		seen[c] = k
	}
	return nil
}

// checkValue runs checkPlaceholders over every string key and value of x, and
// checkKeys over every map.
func checkValue(x any, available vars) error {
	switch t := x.(type) {
	case string:
		return checkPlaceholders(t, available)
	case map[string]any:
		if err := checkKeys(t); err != nil {
			return err
		}
		for k, val := range t {
			if err := checkPlaceholders(k, available); err != nil {
				return err
			}
			if err := checkValue(val, available); err != nil {
				return err
			}
		}
	case []any:
		for _, val := range t {
			if err := checkValue(val, available); err != nil {
				return err
			}
		}
	}
	return nil
}

// selector expands placeholders in a label selector's keys and values and
// converts it; nil selects everything.
func (v vars) selector(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return labels.Everything(), nil
	}
	e := s.DeepCopy()
	if len(e.MatchLabels) > 0 {
		e.MatchLabels = make(map[string]string, len(s.MatchLabels))
		from := make(map[string]string, len(s.MatchLabels))
		for k, val := range s.MatchLabels {
			nk := v.expand(k)
			if other, dup := from[nk]; dup {
				return nil, collision(k, other, nk)
			}
			e.MatchLabels[nk], from[nk] = v.expand(val), k
		}
	}
	for i := range e.MatchExpressions {
		e.MatchExpressions[i].Key = v.expand(e.MatchExpressions[i].Key)
		for j := range e.MatchExpressions[i].Values {
			e.MatchExpressions[i].Values[j] = v.expand(e.MatchExpressions[i].Values[j])
		}
	}
	return metav1.LabelSelectorAsSelector(e)
}
