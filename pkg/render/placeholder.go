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
// can never add YAML structure (no injected keys, no extra documents).
func (v vars) expandValue(x any) any {
	switch t := x.(type) {
	case string:
		return v.expand(t)
	case map[string]any:
		renamed := map[string]any{}
		for k, val := range t {
			t[k] = v.expandValue(val)
			if nk := v.expand(k); nk != k {
				renamed[nk] = t[k]
				delete(t, k)
			}
		}
		for k, val := range renamed {
			t[k] = val
		}
		return t
	case []any:
		for i := range t {
			t[i] = v.expandValue(t[i])
		}
		return t
	}
	return x
}

// checkValue runs checkPlaceholders over every string key and value of x.
func checkValue(x any, available vars) error {
	switch t := x.(type) {
	case string:
		return checkPlaceholders(t, available)
	case map[string]any:
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
		for k, val := range s.MatchLabels {
			e.MatchLabels[v.expand(k)] = v.expand(val)
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
