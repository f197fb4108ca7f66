package diff_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/projectcapsule/tenantgen/pkg/apply"
	"github.com/projectcapsule/tenantgen/pkg/brake"
	"github.com/projectcapsule/tenantgen/pkg/cli"
	"github.com/projectcapsule/tenantgen/pkg/diff"
	"github.com/projectcapsule/tenantgen/pkg/inventory"
	"github.com/projectcapsule/tenantgen/test/testenv"
)

// run runs the tenantgen command line against the test cluster.
func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = cli.Main(append(args, "--kubeconfig", kubeconfig), nil, &out, &errb)
	GinkgoWriter.Printf("$ tenantgen %s\nexit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

var _ = Describe("tenantgen diff", func() {
	It("prints nothing and exits 0 when the files are what the cluster has", func() {
		code, out, errOut := run("diff", "-f", write("same.yaml", partsGTR(gtrOpts{})+"---\n"+adoptGTR("shared")))
		Expect(code).To(Equal(0), errOut)
		Expect(out).To(BeEmpty())
		Expect(errOut).To(ContainSubstring(`globaltenantresource "parts": 18 unchanged`))
		Expect(errOut).To(ContainSubstring(`globaltenantresource "adopt": 1 unchanged`))
	})

	It("shows the changed fields of an edited template and exits 1", func() {
		code, out, errOut := run("diff", "-f", write("green.yaml", partsGTR(gtrOpts{color: "green"})))
		Expect(code).To(Equal(1), errOut)
		Expect(errOut).To(ContainSubstring(`globaltenantresource "parts": 15 changed, 3 unchanged`))
		for _, t := range tenants {
			for i := range 5 {
				file := fmt.Sprintf("v1.ConfigMap.%s-dev.part-%d", t, i)
				Expect(out).To(ContainSubstring("diff -u -N LIVE/%s MERGED/%s\n--- LIVE/%s\n+++ MERGED/%s\n", file, file, file, file))
			}
		}
		Expect(strings.Count(out, "\n-  color: blue\n")).To(Equal(15))
		Expect(strings.Count(out, "\n+  color: green\n")).To(Equal(15))
		// Left out: what every write changes.
		for _, s := range []string{"managedFields", "resourceVersion", "uid:", "creationTimestamp", "applied-hash", "hosts"} {
			Expect(out).NotTo(ContainSubstring(s))
		}
		// Context from the cluster: the unchanged hosts ConfigMap rendered the live routes.
		hosts := &unstructured.Unstructured{}
		hosts.SetGroupVersionKind(configMapGVK)
		Expect(k8s.Get(context.Background(), client.ObjectKey{Namespace: "solar-dev", Name: "hosts"}, hosts)).To(Succeed())
		Expect(hosts.Object["data"]).To(HaveKeyWithValue("hosts", "solar.example.com,www.solar.example.com"))
	})

	It("sends only dry-run writes, as the controller's field manager", func(ctx SpecContext) {
		var mu sync.Mutex
		var writes []string
		cfg := rest.CopyConfig(env.Config)
		cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
			return roundTripper(func(req *http.Request) (*http.Response, error) {
				if req.Method != http.MethodGet {
					mu.Lock()
					writes = append(writes, req.Method+" "+req.URL.RequestURI())
					mu.Unlock()
				}
				return rt.RoundTrip(req)
			})
		}
		var out, errOut bytes.Buffer
		code, err := diff.Run(ctx, cfg, diff.Options{Files: []string{write("green-direct.yaml", partsGTR(gtrOpts{color: "green"}))}, Stdout: &out, Stderr: &errOut})
		Expect(err).NotTo(HaveOccurred())
		Expect(code).To(Equal(diff.ExitChanged), errOut.String())
		Expect(writes).To(HaveLen(15), "one dry-run apply per changed object")
		for _, w := range writes {
			Expect(w).To(HavePrefix("PATCH /api/v1/namespaces/"))
			Expect(w).To(ContainSubstring("dryRun=All"))
			Expect(w).To(ContainSubstring("fieldManager=" + strings.ReplaceAll(apply.FieldManager("parts", ""), "/", "%2F")))
			Expect(w).To(ContainSubstring("force=true"))
		}
	})

	It("lists the objects of tenants that leave the selector as deleted", func() {
		code, out, errOut := run("diff", "-f", write("no-oil.yaml", partsGTR(gtrOpts{selector: `    matchExpressions:
      - {key: diff.tenantgen.test/name, operator: NotIn, values: [oil]}`})))
		Expect(code).To(Equal(1), errOut)
		Expect(errOut).To(ContainSubstring(`globaltenantresource "parts": 6 deleted, 12 unchanged`))
		for _, name := range []string{"part-0", "part-4", "hosts"} {
			file := "v1.ConfigMap.oil-dev." + name
			Expect(out).To(ContainSubstring("--- LIVE/%s\n+++ MERGED/%s\n@@ -1,", file, file))
			Expect(errOut).To(ContainSubstring(`deleted: ConfigMap oil-dev/%s (globaltenantresource "parts", tenant "oil": no longer selected)`, name))
		}
		Expect(out).To(ContainSubstring("-  tenant: oil\n"))
		Expect(out).NotTo(MatchRegexp(`(?m)^\+ `))
		Expect(out).NotTo(ContainSubstring("solar-dev"))
		Expect(errOut).NotTo(ContainSubstring("deletion brake"))
	})

	It("shows an object a crash left out of the inventories as the controller's next start prunes it", func(ctx SpecContext) {
		// What a controller killed between an apply and the inventory write
		// leaves: an object with the pair's labels, written by its field
		// manager alone, of a kind status.generatedKinds lists, in no inventory.
		stray := obj(`apiVersion: v1
kind: ConfigMap
metadata:
  name: stray
  namespace: wind-dev
  labels: {addons.projectcapsule.dev/globaltenantresource: parts, addons.projectcapsule.dev/tenant: wind}
data: {left: behind}
`)
		Expect(k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(stray), client.FieldOwner(apply.FieldManager("parts", "wind")), client.ForceOwnership)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			Expect(client.IgnoreNotFound(k8s.Delete(ctx, stray))).To(Succeed())
			Eventually(func() bool {
				return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(stray), &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}))
			}).Should(BeTrue())
		})
		Expect(entries(ctx, "parts")).NotTo(ContainElement(HaveField("ID", "wind-dev_stray__ConfigMap")))

		code, out, errOut := run("diff", "-f", write("same-again.yaml", partsGTR(gtrOpts{})))
		Expect(code).To(Equal(1), errOut)
		Expect(errOut).To(ContainSubstring(`deleted: ConfigMap wind-dev/stray (globaltenantresource "parts", tenant "wind": no longer rendered)`))
		Expect(errOut).To(ContainSubstring(`globaltenantresource "parts": 1 deleted, 18 unchanged`))
		Expect(section(out, "v1.ConfigMap.wind-dev.stray")).To(ContainSubstring("-  left: behind\n"))
	})

	It("warns when the deletion brake would hold the deletions", func() {
		code, out, errOut := run("diff", "-f", write("solar-only.yaml", partsGTR(gtrOpts{selector: `    matchExpressions:
      - {key: diff.tenantgen.test/name, operator: In, values: [solar]}`})))
		Expect(code).To(Equal(1), errOut)
		limit := brake.Limit(nil, 18)
		Expect(limit).To(Equal(10))
		Expect(strings.Count(out, "diff -u -N")).To(Equal(12))
		Expect(errOut).To(ContainSubstring(
			"warning: globaltenantresource \"parts\": the deletion brake would hold these 12 deletions: more than spec.limits.maxDeletions allows at once (10 of 18 objects); once applied, release them with `kubectl annotate tgr parts addons.projectcapsule.dev/approve-deletions=true`"))
	})

	It("shows an adopted object that is no longer rendered as released, not deleted", func() {
		code, out, errOut := run("diff", "-f", write("adopt-other.yaml", adoptGTR("other")))
		Expect(code).To(Equal(1), errOut)
		Expect(errOut).To(ContainSubstring(`released: ConfigMap solar-dev/shared (globaltenantresource "adopt", tenant "solar": no longer rendered; adopted, so tenantgen only gives up its fields and the object stays`))
		Expect(errOut).To(ContainSubstring(`globaltenantresource "adopt": 1 created, 1 released`))
		// The release's dry run: tenantgen's labels and data go, the owner's data stays.
		shared := section(out, "v1.ConfigMap.solar-dev.shared")
		Expect(shared).To(ContainSubstring("-  managed: \"yes\"\n"))
		Expect(shared).To(ContainSubstring("-    addons.projectcapsule.dev/globaltenantresource: adopt\n"))
		Expect(shared).To(ContainSubstring("   owner: platform\n"))
		// The new object is all added.
		other := section(out, "v1.ConfigMap.solar-dev.other")
		Expect(other).To(ContainSubstring("@@ -0,0 +1,"))
		Expect(other).NotTo(MatchRegexp(`(?m)^-[^-]`))
		Expect(other).To(ContainSubstring("+  managed: \"yes\"\n"))
	})

	It("shows a new GlobalTenantResource's objects as all added", func() {
		g := strings.Replace(partsGTR(gtrOpts{}), "name: parts", "name: parts-copy", 1)
		g = strings.ReplaceAll(g, "name: part-{{ $i }}", "name: copy-{{ $i }}")
		g = strings.ReplaceAll(g, "name: hosts", "name: copy-hosts")
		code, out, errOut := run("diff", "-f", write("copy.yaml", g), "--tenant", "wind")
		Expect(code).To(Equal(1), errOut)
		Expect(errOut).To(ContainSubstring(`globaltenantresource "parts-copy": 6 created`))
		Expect(strings.Count(out, "@@ -0,0 +1,")).To(Equal(6))
		Expect(out).To(ContainSubstring("+    addons.projectcapsule.dev/globaltenantresource: parts-copy\n"))
		Expect(out).To(ContainSubstring(`+  hosts: wind.example.com,www.wind.example.com`))
		Expect(out).NotTo(ContainSubstring("solar"))
	})

	It("exits above 1 with the render error, naming the tenant and the template line", func() {
		code, _, errOut := run("diff", "-f", write("broken.yaml", partsGTR(gtrOpts{broken: true})))
		Expect(code).To(Equal(2))
		Expect(errOut).To(MatchRegexp(`error: .*broken.yaml:1: globaltenantresource "parts", tenant "oil", resources\[0\]\.generators\[0\] line 10: .*map has no entry for key "data"\n.*\n.*\n.*\n.*\n\s*> 10 \|   color: \{\{ required`))
		Expect(errOut).To(ContainSubstring(`tenant "solar"`))
		Expect(errOut).NotTo(ContainSubstring("deleted:"), "a failed render prunes nothing")
	})

	It("exits above 1 on bad usage and files without a GlobalTenantResource", func() {
		code, _, errOut := run("diff", "--nope")
		Expect(code).To(Equal(2))
		Expect(errOut).To(ContainSubstring("unknown flag: --nope"))
		code, _, errOut = run("diff")
		Expect(code).To(Equal(2))
		Expect(errOut).To(ContainSubstring("give at least one -f PATH"))
		code, _, errOut = run("diff", "-f", write("route.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: solar-dev}\n"))
		Expect(code).To(Equal(2))
		Expect(errOut).To(ContainSubstring("ConfigMap x ignored: with a cluster, only GlobalTenantResources are read from files"))
		Expect(errOut).To(ContainSubstring("no GlobalTenantResource in"))
	})

	It("runs $KUBECTL_EXTERNAL_DIFF with a LIVE and a MERGED directory", func() {
		record := filepath.Join(files, "record")
		script := write("record-diff.sh", `#!/bin/sh
mkdir -p "`+record+`"
echo "$1 $2" > "`+record+`/args"
cp -r "$1" "`+record+`/live"
cp -r "$2" "`+record+`/merged"
diff -r "$1" "$2" >/dev/null
`)
		GinkgoT().Setenv("KUBECTL_EXTERNAL_DIFF", script)
		code, out, errOut := run("diff", "-f", write("green-ext.yaml", partsGTR(gtrOpts{color: "green"})))
		Expect(code).To(Equal(1), errOut)
		Expect(out).To(BeEmpty(), "the external program prints the diff, not tenantgen")
		args, err := os.ReadFile(filepath.Join(record, "args"))
		Expect(err).NotTo(HaveOccurred())
		dirs := strings.Fields(string(args))
		Expect(dirs).To(HaveLen(2))
		Expect(filepath.Base(dirs[0])).To(HavePrefix("LIVE-"))
		Expect(filepath.Base(dirs[1])).To(HavePrefix("MERGED-"))
		Expect(dirs[0]).NotTo(BeADirectory(), "removed after the run")
		liveFiles, err := filepath.Glob(filepath.Join(record, "live", "*"))
		Expect(err).NotTo(HaveOccurred())
		Expect(liveFiles).To(HaveLen(18))
		live, err := os.ReadFile(filepath.Join(record, "live", "v1.ConfigMap.wind-dev.part-3"))
		Expect(err).NotTo(HaveOccurred())
		merged, err := os.ReadFile(filepath.Join(record, "merged", "v1.ConfigMap.wind-dev.part-3"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(live)).To(ContainSubstring("color: blue"))
		Expect(string(merged)).To(ContainSubstring("color: green"))
		Expect(string(merged)).NotTo(ContainSubstring("managedFields"))

		// Unchanged: the program finds the directories equal and exits 0.
		code, _, errOut = run("diff", "-f", write("same-ext.yaml", partsGTR(gtrOpts{})))
		Expect(code).To(Equal(0), errOut)
	})
})

var _ = Describe("tenantgen render --kubeconfig", func() {
	It("renders the cluster's GlobalTenantResources against its tenants: what the controller applied", func(ctx SpecContext) {
		code, out, errOut := run("render", "-o", "json")
		Expect(code).To(Equal(0), errOut)
		var list struct{ Items []map[string]any }
		Expect(json.Unmarshal([]byte(out), &list)).To(Succeed())
		var rendered []string
		for _, item := range list.Items {
			u := &unstructured.Unstructured{Object: item}
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(u.GroupVersionKind())
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(u), live)).To(Succeed())
			Expect(apply.Contains(live.Object, u.Object)).To(BeTrue(), "%s differs from the live object", inventory.RefOf(u))
			rendered = append(rendered, inventory.RefOf(u).ID())
		}
		var applied []string
		for _, g := range []string{"parts", "adopt"} {
			for _, e := range entries(ctx, g) {
				applied = append(applied, e.ID)
			}
		}
		sort.Strings(rendered)
		sort.Strings(applied)
		Expect(rendered).To(Equal(applied))
	})

	It("renders GlobalTenantResources from files against the cluster, as offline", func() {
		code, out, errOut := run("render", "-f", write("green-render.yaml", partsGTR(gtrOpts{color: "green"})), "--tenant", "wind")
		Expect(code).To(Equal(0), errOut)
		Expect(strings.Count(out, "color: green")).To(Equal(5))
		Expect(out).To(ContainSubstring("# Source: parts, tenant wind, resources[0].generators[0]"))
		Expect(out).To(ContainSubstring(`hosts: wind.example.com,www.wind.example.com`))
	})
})

var _ = Describe("kubectl tenantgen", func() {
	It("runs as a kubectl plugin and names itself so", func(ctx SpecContext) {
		root, err := testenv.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		bin := GinkgoT().TempDir()
		build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, "kubectl-tenantgen"), "./cmd/tenantgen")
		build.Dir = root
		b, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(b))
		kubectl := filepath.Join(os.Getenv(testenv.AssetsEnv), "kubectl")
		plugin := func(args ...string) (string, int) {
			cmd := exec.CommandContext(ctx, kubectl, args...)
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECTL_EXTERNAL_DIFF=")
			out, err := cmd.CombinedOutput()
			GinkgoWriter.Printf("$ kubectl %s\n%s", strings.Join(args, " "), out)
			if ee, ok := err.(*exec.ExitError); ok {
				return string(out), ee.ExitCode()
			}
			Expect(err).NotTo(HaveOccurred())
			return string(out), 0
		}
		out, code := plugin("tenantgen", "version")
		Expect(code).To(Equal(0))
		Expect(out).To(MatchRegexp(`^tenantgen \S+ \(go`))
		out, code = plugin("tenantgen", "--help")
		Expect(code).To(Equal(0))
		Expect(out).To(ContainSubstring("Usage:\n  kubectl tenantgen [command]"))
		Expect(out).To(ContainSubstring(`Use "kubectl tenantgen [command] --help"`))
		out, code = plugin("tenantgen", "diff", "--help")
		Expect(code).To(Equal(0))
		Expect(out).To(ContainSubstring("kubectl tenantgen diff -f PATH"))
		// kubectl passes the plugin's exit status on: 1, something would change.
		_, code = plugin("tenantgen", "diff", "--kubeconfig", kubeconfig, "-f", write("green-plugin.yaml", partsGTR(gtrOpts{color: "green"})))
		Expect(code).To(Equal(1))
	})
})

// section is the diff of one file in out.
func section(out, file string) string {
	GinkgoHelper()
	head := "diff -u -N LIVE/" + file + " "
	i := strings.Index(out, head)
	Expect(i).To(BeNumerically(">=", 0), "no diff of %s in:\n%s", file, out)
	rest := out[i+len(head):]
	if j := strings.Index(rest, "\ndiff -u -N "); j >= 0 {
		rest = rest[:j+1]
	}
	return rest
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
