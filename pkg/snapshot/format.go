package snapshot

import (
	"bytes"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/render"
)

// Format prints objects as a YAML stream with a comment naming where each
// came from, or as a JSON v1 List; kubectl accepts both. `tenantgen render`
// prints it and `tenantgen test` compares golden files with it.
func Format(format string, objs []render.Object) ([]byte, error) {
	var b bytes.Buffer
	if format == "json" {
		items := make([]any, len(objs))
		for i, o := range objs {
			items[i] = o.Object
		}
		out, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "  ")
		if err != nil {
			return nil, err
		}
		b.Write(out)
		b.WriteByte('\n')
		return b.Bytes(), nil
	}
	for _, o := range objs {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		tenant := o.Tenant
		if tenant == "" {
			tenant = "(scope None)"
		}
		fmt.Fprintf(&b, "---\n# Source: %s, tenant %s, %s\n%s", o.GetLabels()[v1alpha1.LabelGlobalTenantResource], tenant, o.Origin, y)
	}
	return b.Bytes(), nil
}
