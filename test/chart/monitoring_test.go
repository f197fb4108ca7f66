package chart_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// The metrics the controller exports (README "Metrics and alerts"): what the alerts and the
// dashboard may query. A histogram also exports <name>_bucket, _sum and _count.
var (
	gauges = []string{
		"tenantgen_ready", "tenantgen_tenants_selected", "tenantgen_tenants_ready", "tenantgen_tenants_failing",
		"tenantgen_tenants_unhealthy", "tenantgen_objects_managed", "tenantgen_objects_unhealthy",
		"tenantgen_inventory_entries", "tenantgen_deletions_blocked",
	}
	counters = []string{
		"tenantgen_renders_total", "tenantgen_errors_total", "tenantgen_applies_total", "tenantgen_prunes_total",
		"controller_runtime_reconcile_errors_total",
	}
	histograms = []string{"tenantgen_render_duration_seconds", "tenantgen_pair_reconcile_duration_seconds"}
)

// exportedSeries are the series names a query may select: the gauges and counters, and the
// _bucket, _sum and _count series of the histograms.
func exportedSeries() map[string]bool {
	m := map[string]bool{}
	for _, n := range slices.Concat(gauges, counters) {
		m[n] = true
	}
	for _, h := range histograms {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			m[h+suffix] = true
		}
	}
	return m
}

// The alerts the chart's PrometheusRule defines, by their values key.
var alerts = map[string]string{
	"notReady":         "TenantgenGlobalTenantResourceNotReady",
	"tenantsFailing":   "TenantgenTenantsFailing",
	"objectsUnhealthy": "TenantgenObjectsUnhealthy",
	"deletionsBlocked": "TenantgenDeletionsBlocked",
	"renderErrors":     "TenantgenRenderErrors",
}

// runPromtool runs $PROMTOOL and returns its combined output, and an error carrying it.
func runPromtool(args ...string) (string, error) {
	out, err := exec.Command(promtool, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("promtool %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// writeRuleGroups writes the PrometheusRule's spec.groups as a Prometheus rules file
// (what prometheus-operator hands to Prometheus) and returns its path.
func writeRuleGroups(dir string, rule *unstructured.Unstructured) string {
	GinkgoHelper()
	groups, found, err := unstructured.NestedSlice(rule.Object, "spec", "groups")
	Expect(err).NotTo(HaveOccurred())
	Expect(found).To(BeTrue(), "PrometheusRule %s has no spec.groups", rule.GetName())
	b, err := yaml.Marshal(map[string]any{"groups": groups})
	Expect(err).NotTo(HaveOccurred())
	p := filepath.Join(dir, "tenantgen-rules.yaml")
	Expect(os.WriteFile(p, b, 0o600)).To(Succeed())
	return p
}

// testRules runs `promtool test rules` on testdata/rules.test.yaml against the rules of
// the PrometheusRule (the test file reads tenantgen-rules.yaml next to it).
func testRules(rule *unstructured.Unstructured) (string, error) {
	GinkgoHelper()
	dir := GinkgoT().TempDir()
	writeRuleGroups(dir, rule)
	b, err := os.ReadFile(filepath.Join("testdata", "rules.test.yaml"))
	Expect(err).NotTo(HaveOccurred())
	test := filepath.Join(dir, "rules.test.yaml")
	Expect(os.WriteFile(test, b, 0o600)).To(Succeed())
	return runPromtool("test", "rules", test)
}

// ruleList returns the rules of the PrometheusRule's groups.
func ruleList(rule *unstructured.Unstructured) []map[string]any {
	GinkgoHelper()
	groups, _, err := unstructured.NestedSlice(rule.Object, "spec", "groups")
	Expect(err).NotTo(HaveOccurred())
	var out []map[string]any
	for _, g := range groups {
		rules, _, err := unstructured.NestedSlice(g.(map[string]any), "rules")
		Expect(err).NotTo(HaveOccurred())
		for _, r := range rules {
			out = append(out, r.(map[string]any))
		}
	}
	return out
}

// alertRule returns the rule of that alert, failing when there is none.
func alertRule(rule *unstructured.Unstructured, alert string) map[string]any {
	GinkgoHelper()
	for _, r := range ruleList(rule) {
		if r["alert"] == alert {
			return r
		}
	}
	Fail("no alert " + alert + " in PrometheusRule " + rule.GetName())
	return nil
}

var (
	promqlStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promqlRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlIdent    = regexp.MustCompile(`\$?[a-zA-Z_:][a-zA-Z0-9_:]*(?:\s*\()?`)
	promqlKeywords = map[string]bool{
		"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"inf": true, "nan": true, "Inf": true, "NaN": true,
	}
	grafanaLabelValues = regexp.MustCompile(`^\s*label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{[^}]*\})?\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)
)

// metricNames returns the metric names a PromQL expression selects, in order: what is left
// once string literals, label matchers, ranges, grouping label lists, function and
// aggregation calls, keywords, numbers and Grafana $variables are taken out.
func metricNames(expr string) []string {
	s := promqlStrings.ReplaceAllString(expr, `""`)
	s = promqlMatchers.ReplaceAllString(s, " ")
	s = promqlRanges.ReplaceAllString(s, " ")
	s = promqlGrouping.ReplaceAllString(s, " ")
	var names []string
	for _, loc := range promqlIdent.FindAllStringIndex(s, -1) {
		tok := s[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsAny(s[loc[0]-1:loc[0]], "0123456789.") {
			continue // the exponent or unit of a number: 1e3, 5m
		}
		if strings.HasPrefix(tok, "$") || strings.HasSuffix(tok, "(") || promqlKeywords[tok] {
			continue
		}
		names = append(names, tok)
	}
	return names
}

// grafanaQueries returns every query of a Grafana dashboard: each panel's targets (rows'
// nested panels included) and the query variables, as "where: query".
func grafanaQueries(dashboard map[string]any) map[string]string {
	out := map[string]string{}
	var panels func(list []any)
	panels = func(list []any) {
		for _, p := range list {
			p := p.(map[string]any)
			targets, _ := p["targets"].([]any)
			for i, t := range targets {
				if expr, ok := t.(map[string]any)["expr"].(string); ok {
					out[fmt.Sprintf("panel %q target %d", p["title"], i)] = expr
				}
			}
			if nested, ok := p["panels"].([]any); ok {
				panels(nested)
			}
		}
	}
	list, _ := dashboard["panels"].([]any)
	panels(list)
	templating, _ := dashboard["templating"].(map[string]any)
	vars, _ := templating["list"].([]any)
	for _, v := range vars {
		v := v.(map[string]any)
		if v["type"] != "query" {
			continue
		}
		switch q := v["query"].(type) {
		case string:
			out[fmt.Sprintf("variable %q", v["name"])] = q
		case map[string]any:
			out[fmt.Sprintf("variable %q", v["name"])], _ = q["query"].(string)
		}
	}
	return out
}

var _ = Describe("the PrometheusRule (prometheusRule.enabled)", Ordered, func() {
	var rule *unstructured.Unstructured
	BeforeAll(func() {
		rule = find(template(defaults, "prometheusRule.enabled=true"), "PrometheusRule", fullname)
	})

	It("is off by default", func() {
		for _, o := range template(defaults) {
			Expect(o.GetKind()).NotTo(Equal("PrometheusRule"))
		}
	})

	It("defines the five alerts on the controller's metrics, each with a severity and annotations naming the GlobalTenantResource", func() {
		Expect(rule.GetAPIVersion()).To(Equal("monitoring.coreos.com/v1"))
		Expect(rule.GetNamespace()).To(Equal(releaseNamespace))
		Expect(rule.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/instance", release))
		var names []string
		series := exportedSeries()
		for _, r := range ruleList(rule) {
			names = append(names, r["alert"].(string))
			Expect(r).To(HaveKeyWithValue("labels", HaveKeyWithValue("severity", "warning")), "%s", r["alert"])
			Expect(r).To(HaveKey("for"), "%s", r["alert"])
			ann := r["annotations"].(map[string]any)
			for _, k := range []string{"summary", "description"} {
				Expect(ann[k]).To(ContainSubstring("{{ $labels.globaltenantresource }}"), "%s annotation %s", r["alert"], k)
			}
			used := metricNames(r["expr"].(string))
			Expect(used).NotTo(BeEmpty(), "%s: %s", r["alert"], r["expr"])
			for _, n := range used {
				Expect(series).To(HaveKey(n), "%s queries %s, which the controller does not export", r["alert"], n)
			}
		}
		Expect(names).To(ConsistOf(
			"TenantgenGlobalTenantResourceNotReady", "TenantgenTenantsFailing", "TenantgenObjectsUnhealthy",
			"TenantgenDeletionsBlocked", "TenantgenRenderErrors"))
		Expect(alertRule(rule, "TenantgenGlobalTenantResourceNotReady")).To(HaveKeyWithValue("for", "15m"))
		Expect(alertRule(rule, "TenantgenDeletionsBlocked")["annotations"]).To(HaveKeyWithValue("runbook",
			ContainSubstring("kubectl annotate tgr {{ $labels.globaltenantresource }} addons.projectcapsule.dev/approve-deletions=true")))
	})

	It("passes promtool check rules", func() {
		out, err := runPromtool("check", "rules", writeRuleGroups(GinkgoT().TempDir(), rule))
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("SUCCESS: 5 rules found"))
	})

	It("passes promtool test rules: each alert fires for the broken GlobalTenantResource only, after its `for`", func() {
		out, err := testRules(rule)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("SUCCESS"))
		GinkgoWriter.Print(out)
	})

	DescribeTable("fails promtool test rules when an alert changes (the unit tests check what they claim)",
		func(set, wantInOutput string) {
			changed := find(template(defaults, "prometheusRule.enabled=true", set), "PrometheusRule", fullname)
			out, err := testRules(changed)
			Expect(err).To(HaveOccurred(), "promtool test rules passed with %s:\n%s", set, out)
			Expect(out).To(ContainSubstring(wantInOutput))
		},
		Entry("a longer for", "prometheusRule.rules.notReady.for=30m", "TenantgenGlobalTenantResourceNotReady"),
		Entry("a shorter for", "prometheusRule.rules.deletionsBlocked.for=1m", "TenantgenDeletionsBlocked"),
		Entry("another severity", "prometheusRule.rules.tenantsFailing.severity=critical", "TenantgenTenantsFailing"),
		Entry("an alert turned off", "prometheusRule.rules.objectsUnhealthy.enabled=false", "TenantgenObjectsUnhealthy"),
	)

	It("takes the for durations, severities, labels, namespace and additional rules from values", func() {
		f := filepath.Join(GinkgoT().TempDir(), "values.yaml")
		Expect(os.WriteFile(f, []byte(`prometheusRule:
  enabled: true
  namespace: monitoring
  labels: {release: kube-prometheus-stack}
  rules:
    notReady: {for: 1h, severity: critical}
    renderErrors: {enabled: false}
  additionalRules:
    - alert: TenantgenManyPrunes
      expr: sum(rate(tenantgen_prunes_total[5m])) > 10
      labels: {severity: info}
`), 0o600)).To(Succeed())
		r := find(template([]string{f}), "PrometheusRule", fullname)
		Expect(r.GetNamespace()).To(Equal("monitoring"))
		Expect(r.GetLabels()).To(HaveKeyWithValue("release", "kube-prometheus-stack"))
		notReady := alertRule(r, "TenantgenGlobalTenantResourceNotReady")
		Expect(notReady).To(HaveKeyWithValue("for", "1h"))
		Expect(notReady["labels"]).To(HaveKeyWithValue("severity", "critical"))
		Expect(notReady["annotations"]).To(HaveKeyWithValue("description", ContainSubstring("has not been Ready for 1h")))
		Expect(alertRule(r, "TenantgenTenantsFailing")).To(HaveKeyWithValue("for", "15m"), "the other alerts keep their defaults")
		Expect(alertRule(r, "TenantgenManyPrunes")["labels"]).To(HaveKeyWithValue("severity", "info"))
		var names []string
		for _, rr := range ruleList(r) {
			names = append(names, rr["alert"].(string))
		}
		Expect(names).NotTo(ContainElement("TenantgenRenderErrors"))
		Expect(names).To(HaveLen(5))

		out, err := runPromtool("check", "rules", writeRuleGroups(GinkgoT().TempDir(), r))
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("SUCCESS: 5 rules found"))
	})
})

var _ = Describe("the Grafana dashboard (grafanaDashboard.enabled)", Ordered, func() {
	var (
		cm        *corev1.ConfigMap
		dashboard map[string]any
	)
	BeforeAll(func() {
		objs := template(defaults, "grafanaDashboard.enabled=true")
		cm = into[corev1.ConfigMap](find(objs, "ConfigMap", fullname+"-dashboard"))
		Expect(cm.Data).To(HaveKey("tenantgen.json"))
		Expect(json.Unmarshal([]byte(cm.Data["tenantgen.json"]), &dashboard)).To(Succeed(), "the dashboard is JSON")
	})

	It("is off by default", func() {
		for _, o := range template(defaults) {
			Expect(o.GetKind()).NotTo(Equal("ConfigMap"))
		}
	})

	It("is a ConfigMap the Grafana sidecar finds, holding files/dashboards/tenantgen.json unchanged", func() {
		Expect(cm.Namespace).To(Equal(releaseNamespace))
		Expect(cm.Labels).To(HaveKeyWithValue("grafana_dashboard", "1"))
		Expect(cm.Labels).To(HaveKeyWithValue("app.kubernetes.io/instance", release))
		src, err := os.ReadFile(filepath.Join(chartDir, "files", "dashboards", "tenantgen.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(cm.Data["tenantgen.json"]).To(Equal(strings.TrimRight(string(src), "\n")))
		Expect(dashboard).To(HaveKeyWithValue("uid", "tenantgen"))

		objs := template(defaults, "grafanaDashboard.enabled=true", "grafanaDashboard.namespace=grafana",
			"grafanaDashboard.labels.grafana_dashboard=null", "grafanaDashboard.labels.dashboards=tenantgen")
		other := find(objs, "ConfigMap", fullname+"-dashboard")
		Expect(other.GetNamespace()).To(Equal("grafana"))
		Expect(other.GetLabels()).To(HaveKeyWithValue("dashboards", "tenantgen"))
		Expect(other.GetLabels()).NotTo(HaveKey("grafana_dashboard"))
	})

	It("has the panels of readiness, tenants, objects, blocked deletions, render time and reconcile errors", func() {
		var titles []string
		for _, p := range dashboard["panels"].([]any) {
			titles = append(titles, p.(map[string]any)["title"].(string))
		}
		Expect(titles).To(ContainElements("Ready", "GlobalTenantResources not Ready", "Tenants", "Objects",
			"Deletions blocked", "Render duration p99", "Reconcile errors per controller"))
	})

	It("queries only the controller's metrics, and each of the gauges, the render histogram and the reconcile errors", func() {
		queries := grafanaQueries(dashboard)
		Expect(len(queries)).To(BeNumerically(">=", 15))
		series := exportedSeries()
		used := map[string]bool{}
		for where, q := range queries {
			names := metricNames(q)
			if m := grafanaLabelValues.FindStringSubmatch(q); m != nil {
				names = []string{m[1]}
			}
			Expect(names).NotTo(BeEmpty(), "%s selects no metric: %s", where, q)
			for _, n := range names {
				Expect(series).To(HaveKey(n), "%s queries %s, which the controller does not export: %s", where, n, q)
				used[n] = true
			}
		}
		for _, n := range slices.Concat(gauges, []string{"tenantgen_render_duration_seconds_bucket",
			"tenantgen_renders_total", "controller_runtime_reconcile_errors_total"}) {
			Expect(used).To(HaveKey(n), "no panel shows %s", n)
		}
	})

	It("queries valid PromQL (promtool check rules, with Grafana's variables filled in)", func() {
		vars := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$globaltenantresource", ".*")
		var rules []map[string]any
		for where, q := range grafanaQueries(dashboard) {
			if grafanaLabelValues.MatchString(q) {
				continue // a Grafana function, not PromQL
			}
			Expect(vars.Replace(q)).NotTo(ContainSubstring("$"), "%s: an unknown variable", where)
			rules = append(rules, map[string]any{"record": fmt.Sprintf("dashboard:query_%d", len(rules)), "expr": vars.Replace(q)})
		}
		b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
		Expect(err).NotTo(HaveOccurred())
		f := filepath.Join(GinkgoT().TempDir(), "dashboard-rules.yaml")
		Expect(os.WriteFile(f, b, 0o600)).To(Succeed())
		out, err := runPromtool("check", "rules", f)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring(fmt.Sprintf("SUCCESS: %d rules found", len(rules))))
	})
})

var _ = Describe("metricNames, the PromQL reading of the dashboard and alert tests", func() {
	DescribeTable("finds the metric names of an expression",
		func(expr string, want []string) { Expect(metricNames(expr)).To(Equal(want)) },
		Entry("a comparison", "up == 0", []string{"up"}),
		Entry("a quantile", `histogram_quantile(0.99, sum by (le, x) (rate(foo_bucket{a="b}", c=~"$v"}[$__rate_interval])))`, []string{"foo_bucket"}),
		Entry("binary operators and vector matching", `sum(rate(a_total[1m] offset 5m)) / on (x) group_left (y) b and c unless d or bool_metric`,
			[]string{"a_total", "b", "c", "d", "bool_metric"}),
		Entry("a fallback to a number", "count(x == 0) or vector(1e3)", []string{"x"}),
		Entry("grouping after the aggregation", "max(y:recorded) without (pod)", []string{"y:recorded"}),
		Entry("no metric", "vector(0)", []string(nil)),
	)
})
