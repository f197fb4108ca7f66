package render

import (
	"errors"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

// removedFuncs are the sprig functions generators cannot use: they read the
// controller's environment, reach the network, or return something new on each
// call (clock, randomness, fresh keys and salts). A template using them would
// either leak controller secrets or rewrite its objects on every resync.
var removedFuncs = []string{
	"env", "expandenv", "getHostByName",
	"now", "ago", "date_modify", "dateModify", "mustDateModify",
	"randAlpha", "randAlphaNum", "randAscii", "randNumeric", "randInt", "randBytes", "shuffle", "uuidv4",
	"bcrypt", "htpasswd", "encryptAES",
	"genPrivateKey", "genCA", "genCAWithKey", "genSelfSignedCert", "genSelfSignedCertWithKey",
	"genSignedCert", "genSignedCertWithKey", "buildCustomCert",
	// scrypt with 32 MiB of state per call: half a render's memory budget
	"derivePassword",
}

// zeroFunc and presentFunc are appended to every printing action of a
// missingKey=zero or missingKey=error template (see instrument), outFunc to
// those of a missingKey=invalid one. Go's missingkey options act on map
// lookups only, and never on what an action finally prints: missingkey=zero
// yields the zero value of the map's element type, which for the
// map[string]any of Kubernetes objects is a nil interface that prints as
// "<no value>", the very string the option is meant to avoid; and
// missingkey=error still prints "<no value>" for `index` of a missing key. A
// last stage sees every printed value: zeroFunc turns nil into "",
// presentFunc fails on it, and all three price what is printed.
const (
	zeroFunc    = "tenantgen_zero"
	presentFunc = "tenantgen_present"
)

// errMissingPrinted is what missingKey=error reports when an action prints a
// nil: a missing key reached through index, a nil from dig, an absent field
// of a context object. Go would print "<no value>".
var errMissingPrinted = errors.New("printed a missing value (Go would print <no value>); give it a default with `default` or `dig`, or use missingKey: zero")

// funcs is the function map every generator gets: sprig minus removedFuncs, plus
// the YAML helpers that Helm users reach for.
var funcs = buildFuncs()

func buildFuncs() template.FuncMap {
	m := sprig.TxtFuncMap()
	for _, name := range removedFuncs {
		delete(m, name)
	}
	m["toYaml"] = toYAML
	m["fromYaml"] = fromYAML
	m["required"] = required
	m[zeroFunc] = func(v any) any {
		if v == nil {
			return ""
		}
		return v
	}
	m[presentFunc] = func(v any) (any, error) {
		if v == nil {
			return nil, errMissingPrinted
		}
		return v, nil
	}
	return m
}

// FuncNames lists the template functions available to generators, sorted, for
// documentation and `tenantgen render --help`.
func FuncNames() []string {
	names := make([]string, 0, len(funcs))
	for n := range funcs {
		if !strings.HasPrefix(n, internalPrefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func toYAML(v any) (string, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

func fromYAML(s string) (map[string]any, error) {
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// required fails the render with msg when v is nil or an empty string, as in Helm.
func required(msg string, v any) (any, error) {
	if v == nil {
		return nil, errors.New(msg)
	}
	if s, ok := v.(string); ok && s == "" {
		return nil, errors.New(msg)
	}
	return v, nil
}
