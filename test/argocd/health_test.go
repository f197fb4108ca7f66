// Package argocd_test runs config/argocd/health.lua, the Argo CD health check
// of GlobalTenantResources, in gopher-lua (the Lua interpreter Argo CD
// embeds) against statuses the controller writes.
package argocd_test

import (
	"os"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

// run evaluates the script with obj set as Argo CD does and returns the
// status and message of the table it returns.
func run(t *testing.T, script, object string) (string, string) {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(object), &obj); err != nil {
		t.Fatal(err)
	}
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		t.Fatal(err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the script returned %v, not a table", L.Get(-1))
	}
	return ret.RawGetString("status").String(), ret.RawGetString("message").String()
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, e := range x {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, e := range x {
			t.Append(toLua(L, e))
		}
		return t
	case string:
		return lua.LString(x)
	case float64:
		return lua.LNumber(x)
	case bool:
		return lua.LBool(x)
	}
	return lua.LNil
}

func TestArgoCDHealth(t *testing.T) {
	script, err := os.ReadFile("../../config/argocd/health.lua")
	if err != nil {
		t.Fatal(err)
	}
	const meta = "metadata: {name: gw, generation: 2}\n"
	cases := []struct {
		name, status, want, msg string
	}{
		{"no status yet", "", "Progressing", "Waiting for the tenantgen controller"},
		{"status of an older spec", `status: {observedGeneration: 1, conditions: [{type: Ready, status: "True", message: ok}]}`, "Progressing", "observe the new spec"},
		{"ready", `status: {observedGeneration: 2, conditions: [{type: Healthy, status: "True"}, {type: Ready, status: "True", message: "3 tenants reconciled, 9 objects healthy"}]}`, "Healthy", "9 objects healthy"},
		{"objects in progress", `status: {observedGeneration: 2, conditions: [{type: Ready, status: "False", reason: HealthPending, message: "1 objects not healthy"}, {type: Reconciling, status: "True"}]}`, "Progressing", "1 objects not healthy"},
		{"stalled", `status: {observedGeneration: 2, conditions: [{type: Ready, status: "False", reason: Unhealthy}, {type: Stalled, status: "True", reason: Unhealthy, message: "Gateway s/gw: Programmed=False"}]}`, "Degraded", "Programmed=False"},
		{"cordoned", `status: {observedGeneration: 2, conditions: [{type: Ready, status: "False", reason: Cordoned}, {type: Cordoned, status: "True", message: paused}]}`, "Suspended", "paused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, msg := run(t, string(script), meta+tc.status)
			if status != tc.want || !strings.Contains(msg, tc.msg) {
				t.Fatalf("got %s %q, want %s containing %q", status, msg, tc.want, tc.msg)
			}
		})
	}
}
