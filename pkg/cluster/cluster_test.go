package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kubeconfigFile writes a kubeconfig whose contexts point at servers named after them.
func kubeconfigFile(t *testing.T, name, current string, contexts ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Config\ncurrent-context: " + current + "\nclusters:\n")
	for _, c := range contexts {
		b.WriteString("- name: " + c + "\n  cluster: {server: https://" + c + ".example:6443}\n")
	}
	b.WriteString("users:\n- name: u\n  user: {token: t}\ncontexts:\n")
	for _, c := range contexts {
		b.WriteString("- name: " + c + "\n  context: {cluster: " + c + ", user: u}\n")
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The order KubeconfigHelp states: --kubeconfig, then $KUBECONFIG (then
// ~/.kube/config, whose path client-go fixes when it starts, so it is not
// exercised here); --context picks a context of whichever file is used.
func TestConfigPrecedence(t *testing.T) {
	envFile := kubeconfigFile(t, "env", "env", "env", "env-other")
	flagFile := kubeconfigFile(t, "flag", "flag", "flag", "flag-other")

	for _, tc := range []struct {
		name, env, flag, context, want string
	}{
		{name: "KUBECONFIG", env: envFile, want: "env"},
		{name: "flag over KUBECONFIG", env: envFile, flag: flagFile, want: "flag"},
		{name: "context of the flag's file", env: envFile, flag: flagFile, context: "flag-other", want: "flag-other"},
		{name: "context of KUBECONFIG's file", env: envFile, context: "env-other", want: "env-other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tc.env)
			cfg, err := Config(tc.flag, tc.context)
			if err != nil {
				t.Fatal(err)
			}
			if want := "https://" + tc.want + ".example:6443"; cfg.Host != want {
				t.Errorf("host %q, want %q", cfg.Host, want)
			}
		})
	}
	t.Run("unknown context", func(t *testing.T) {
		t.Setenv("KUBECONFIG", envFile)
		_, err := Config("", "nope")
		if err == nil || !strings.Contains(err.Error(), `"nope"`) {
			t.Fatalf("error %v, want one naming the context", err)
		}
	})
}
