package render

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Error is a render failure located as precisely as tenantgen can: the
// GlobalTenantResource, the tenant and namespace rendered for, the item or
// generator (Origin), the template line, and an excerpt of the offending text.
type Error struct {
	GTR       string
	Tenant    string
	Namespace string
	// Origin names the item, e.g. "resources[0].generators[1]" or "resources[1].rawItems[0]".
	Origin string
	// Object names the rendered object the error is about, e.g. "Gateway tenant-a-system/gw".
	Object string
	// Line is the 1-based line in the generator's template (0 when not known).
	Line int
	// OutputLine is the 1-based line in the generator's rendered output (0 when not known).
	OutputLine int
	Msg        string
	// Limit names the budget limit the render hit (a budget.Limit* name), "" for other errors.
	Limit string
	// Excerpt quotes the template or rendered text around the error, with line numbers.
	Excerpt string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "globaltenantresource %q", e.GTR)
	if e.Tenant != "" {
		fmt.Fprintf(&b, ", tenant %q", e.Tenant)
	}
	if e.Namespace != "" {
		fmt.Fprintf(&b, ", namespace %q", e.Namespace)
	}
	if e.Origin != "" {
		b.WriteString(", " + e.Origin)
	}
	if e.Line > 0 {
		b.WriteString(" line " + strconv.Itoa(e.Line))
	}
	if e.OutputLine > 0 {
		b.WriteString(" (rendered output line " + strconv.Itoa(e.OutputLine) + ")")
	}
	if e.Object != "" {
		b.WriteString(", " + e.Object)
	}
	b.WriteString(": " + e.Msg)
	if e.Excerpt != "" {
		b.WriteString("\n" + e.Excerpt)
	}
	return b.String()
}

// Errors is every failure of one render. A render with errors returns no
// objects: callers keep what the tenant had and report these.
type Errors []*Error

// Limit names the budget limit a failed render hit ("" when it hit none), so
// that callers can report a template that ran out of budget as such.
func Limit(err error) string {
	var es Errors
	if errors.As(err, &es) {
		for _, e := range es {
			if e.Limit != "" {
				return e.Limit
			}
		}
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Limit
	}
	return ""
}

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}
