package render

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"

	"github.com/projectcapsule/tenantgen/pkg/budget"
)

// A template's functions cannot see the execution that calls them, yet each
// must charge the budget of its own render. So a compiled generator keeps a
// pool of clones of its template, each with the functions bound to a meter;
// an execution takes a clone, points its meter at its budget, and gives the
// clone back. Clones share the parse tree; only the function maps differ.

// meter is the budget the functions of one clone charge.
type meter struct{ b *budget.Budget }

type boundTemplate struct {
	t *template.Template
	m *meter
}

// generatorTemplate is one parsed generator.
type generatorTemplate struct {
	base   *template.Template // parsed with the unbound funcs; never executed
	source string
	pool   sync.Pool
}

func (g *generatorTemplate) bind() *boundTemplate {
	t, err := g.base.Clone()
	if err != nil {
		panic(err) // Clone fails only on a template already executed, and base never is
	}
	m := &meter{}
	t.Funcs(m.funcs())
	return &boundTemplate{t: t, m: m}
}

// execute runs the template against one render's budget. When the budget
// runs out the template stops at its next check, in this goroutine: nothing
// is left running.
func (g *generatorTemplate) execute(w io.Writer, data any, b *budget.Budget) error {
	bt, _ := g.pool.Get().(*boundTemplate)
	if bt == nil {
		bt = g.bind()
	}
	bt.m.b = b
	err := bt.t.Execute(w, data)
	bt.m.b = nil
	g.pool.Put(bt)
	return err
}

// The functions the parse tree rewrite inserts (see instrument). Their names
// never reach an error message (see templateError) and templates cannot call
// them (see checkNoInternal).
const (
	internalPrefix = "tenantgen_"
	stepFunc       = internalPrefix + "step"
	enterFunc      = internalPrefix + "enter"
	leaveFunc      = internalPrefix + "leave"
	outFunc        = internalPrefix + "out"
)

// shallowFuncs only look at or rearrange their arguments' top level (or
// compare them, which reflect.DeepEqual memoises), so walking their
// arguments to price them would be wasted time. Every other function with a
// list, map or any-typed argument may format, serialise or copy all of it,
// and its arguments are priced by a walk before it runs.
var shallowFuncs = setOf(
	"dig", "get", "hasKey", "set", "unset", "keys", "values", "pick", "omit", "pluck",
	"list", "tuple", "dict", "append", "push", "prepend", "mustAppend", "mustPush", "mustPrepend", "concat",
	"first", "mustFirst", "last", "mustLast", "initial", "mustInitial", "rest", "mustRest",
	"reverse", "mustReverse", "compact", "mustCompact", "slice", "mustSlice", "chunk", "mustChunk",
	"default", "empty", "coalesce", "ternary", "all", "any", "kindIs", "kindOf", "typeIs", "typeIsLike", "typeOf",
	"has", "mustHas", "without", "mustWithout", "deepEqual", "uniq", "mustUniq",
	"int", "int64", "float64", "toDecimal", "add", "add1", "sub", "mul", "div", "mod", "max", "min", "biggest",
	"addf", "add1f", "subf", "mulf", "divf", "maxf", "minf", "floor", "ceil", "round",
	"required", "fail",
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// funcs returns the function map bound to m: every function of funcs,
// wrapped so that it checks the deadline, prices its arguments, refuses
// sizes that would not fit and charges what it returns; the builtins that
// build strings (print, printf, println, html, js, urlquery) likewise; and
// the internal functions of the rewrite.
func (m *meter) funcs() template.FuncMap {
	out := make(template.FuncMap, len(funcs)+16)
	for name, fn := range funcs {
		switch name {
		case zeroFunc, presentFunc:
			continue
		case "uniq":
			fn = func(list any) []any { l, err := m.uniq(list); must(err); return l }
		case "mustUniq":
			fn = m.uniq
		}
		out[name] = m.wrap(name, fn)
	}
	out["print"] = m.wrap("print", fmt.Sprint)
	out["println"] = m.wrap("println", fmt.Sprintln)
	out["printf"] = m.wrap("printf", fmt.Sprintf)
	out["html"] = m.wrap("html", template.HTMLEscaper)
	out["js"] = m.wrap("js", template.JSEscaper)
	out["urlquery"] = m.wrap("urlquery", template.URLQueryEscaper)

	out[stepFunc] = func() string { must(m.b.Check()); return "" }
	out[enterFunc] = func() string { must(m.b.Enter()); return "" }
	out[leaveFunc] = func() string { m.b.Leave(); return "" }
	out[outFunc] = m.printable
	out[zeroFunc] = func(v any) any {
		if v == nil {
			return ""
		}
		return m.printable(v)
	}
	out[presentFunc] = func(v any) (any, error) {
		if v == nil {
			return nil, errMissingPrinted
		}
		return m.printable(v), nil
	}
	return out
}

// must stops the template: text/template turns a function's panic into the
// execution's error, unwrappable with errors.As.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// printable prices what an action is about to print: fmt builds the whole
// text before the writer can refuse it.
func (m *meter) printable(v any) any {
	if _, ok := v.(string); !ok && v != nil {
		_, err := m.b.ValueSize(v, m.b.Room()/3)
		must(err)
	}
	return v
}

// costFactors say how many bytes a function allocates per byte of its result:
// fmt and encoding/json build in a buffer that grows by doubling and then
// copy it out (3); toYaml marshals to JSON and parses that again as YAML.
// Functions not listed here and not in shallowFuncs cost 3, shallow ones 1.
var costFactors = map[string]int64{
	"toYaml": 12, "fromYaml": 1, "fromJson": 1, "mustFromJson": 1,
	"deepCopy": 2, "mustDeepCopy": 2,
}

func costFactor(name string) int64 {
	if f, ok := costFactors[name]; ok {
		return f
	}
	if shallowFuncs[name] {
		return 1
	}
	return 3
}

// price walks the arguments of a function that may format, serialise or
// copy them, and fails unless factor times their size fits the budget.
func (m *meter) price(args []any, factor int64) {
	var priced int64
	for _, a := range args {
		n, err := m.b.ValueSize(a, (m.b.Room()-priced*factor)/factor)
		must(err)
		priced += n
	}
}

// wrapFast is wrap for the signatures most templates call (quote, printf,
// the string functions, dig, default) without pre-checks: a typed closure
// instead of reflect.MakeFunc, which costs a second reflective call per use.
func (m *meter) wrapFast(fn any, deep bool, factor int64) any {
	switch f := fn.(type) {
	case func(...any) string:
		return func(args ...any) string {
			must(m.b.Check())
			if deep {
				m.price(args, factor)
			}
			r := f(args...)
			must(m.b.Charge(factor * int64(len(r))))
			return r
		}
	case func(string) string:
		return func(a string) string {
			must(m.b.Check())
			if int64(len(a))*factor > m.b.Room() {
				must(m.b.Exceed(budget.LimitMemory, "a string of %s was passed to a function, more than the render has left", budget.Size(int64(len(a)))))
			}
			r := f(a)
			must(m.b.Charge(factor * int64(len(r))))
			return r
		}
	case func(...any) (any, error):
		if deep {
			return nil
		}
		return func(args ...any) (any, error) {
			must(m.b.Check())
			return f(args...)
		}
	case func(any, ...any) any:
		if deep {
			return nil
		}
		return func(a any, args ...any) any {
			must(m.b.Check())
			return f(a, args...)
		}
	}
	return nil
}

// wrap returns fn with the budget around it, same signature.
func (m *meter) wrap(name string, fn any) any {
	v := reflect.ValueOf(fn)
	t := v.Type()
	deep := !shallowFuncs[name]
	pre := preChecks[name]
	factor := costFactor(name)
	copies := name == "deepCopy" || name == "mustDeepCopy"
	if pre == nil && !copies {
		if w := m.wrapFast(fn, deep, factor); w != nil {
			return w
		}
	}
	if name == "printf" {
		return func(format string, args ...any) string {
			must(m.b.Check())
			must(printfWidths(m.b, format, reflect.ValueOf(args)))
			m.price(args, factor)
			r := fmt.Sprintf(format, args...)
			must(m.b.Charge(factor * int64(len(r))))
			return r
		}
	}
	return reflect.MakeFunc(t, func(args []reflect.Value) []reflect.Value {
		b := m.b
		must(b.Check())
		var priced int64
		if deep {
			for _, a := range args {
				switch a.Kind() {
				case reflect.Interface, reflect.Map, reflect.Slice, reflect.Pointer:
					n, err := b.ValueSize(a.Interface(), (b.Room()-priced*factor)/factor)
					must(err)
					priced += n
				}
			}
		}
		if pre != nil {
			est, err := pre(b, args)
			must(err)
			if est > b.Room()/factor {
				must(b.Exceed(budget.LimitMemory, "%s would build %s, more than the render has left", name, budget.Size(est)))
			}
		}
		var out []reflect.Value
		if t.IsVariadic() {
			out = v.CallSlice(args)
		} else {
			out = v.Call(args)
		}
		cost := budget.ShallowSize(out[0])
		if copies {
			cost = priced
		}
		must(b.Charge(factor * cost))
		return out
	}).Interface()
}

// preCheck estimates, before a function runs, the bytes its result takes,
// and fails on sizes beyond budget.MaxLen or budget.MaxWidth: the ones whose
// result grows with a number or a separator rather than with their input.
type preCheck func(b *budget.Budget, args []reflect.Value) (int64, error)

func argInt(a reflect.Value) int64 {
	switch a.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(min(a.Uint(), 1<<62))
	case reflect.Interface:
		if !a.IsNil() {
			return argInt(a.Elem())
		}
	}
	return 0
}

// count is strings.Count, also for an empty separator.
func count(s, sep string) int64 { return int64(strings.Count(s, sep)) }

func listLen(a reflect.Value) int64 {
	for a.Kind() == reflect.Interface && !a.IsNil() {
		a = a.Elem()
	}
	switch a.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map, reflect.String:
		return int64(a.Len())
	}
	return 0
}

func steps(start, stop, step int64) int64 {
	if step == 0 || (stop-start)/step < 0 {
		return 0
	}
	return (stop-start)/step + 1
}

var preChecks = map[string]preCheck{
	"repeat": func(b *budget.Budget, a []reflect.Value) (int64, error) {
		n, s := argInt(a[0]), a[1].String()
		if n > 0 && len(s) > 0 && n > b.Room()/int64(len(s)) {
			return b.Room() + 1, nil
		}
		return n * int64(len(s)), nil
	},
	"until": func(b *budget.Budget, a []reflect.Value) (int64, error) {
		n := argInt(a[0])
		return 8 * n, b.Len("until", n)
	},
	"untilStep": func(b *budget.Budget, a []reflect.Value) (int64, error) {
		n := steps(argInt(a[0]), argInt(a[1]), argInt(a[2]))
		return 8 * n, b.Len("untilStep", n)
	},
	"seq": func(b *budget.Budget, a []reflect.Value) (int64, error) {
		ints := a[0]
		var n int64
		switch ints.Len() {
		case 1:
			n = steps(1, ints.Index(0).Int(), 1)
			if ints.Index(0).Int() < 1 {
				n = steps(1, ints.Index(0).Int(), -1)
			}
		case 2:
			lo, hi := ints.Index(0).Int(), ints.Index(1).Int()
			n = max(steps(lo, hi, 1), steps(lo, hi, -1))
		case 3:
			n = steps(ints.Index(0).Int(), ints.Index(2).Int(), ints.Index(1).Int())
		}
		return 21 * n, b.Len("seq", n)
	},
	"indent":  indentCost,
	"nindent": indentCost,
	"wrap": func(b *budget.Budget, a []reflect.Value) (int64, error) {
		return wrapCost(b, argInt(a[0]), "\n", a[1].String())
	},
	"wrapWith": func(b *budget.Budget, a []reflect.Value) (int64, error) {
		return wrapCost(b, argInt(a[0]), a[1].String(), a[2].String())
	},
	"printf": func(b *budget.Budget, a []reflect.Value) (int64, error) {
		return 0, printfWidths(b, a[0].String(), a[1])
	},
	"replace": func(b *budget.Budget, a []reflect.Value) (int64, error) {
		old, repl, src := a[0].String(), a[1].String(), a[2].String()
		grow := int64(len(repl) - len(old))
		return int64(len(src)) + max(grow, 0)*count(src, old), nil
	},
	"join": func(b *budget.Budget, a []reflect.Value) (int64, error) {
		return listLen(a[1]) * int64(len(a[0].String())), nil
	},
	"splitList": splitCost(0, 1, 16),
	"split":     splitCost(0, 1, 64),
	"splitn": func(b *budget.Budget, a []reflect.Value) (int64, error) {
		n := min(argInt(a[1]), count(a[2].String(), a[0].String())+1)
		return 64 * n, b.Len("splitn", n)
	},
	"chunk":                      chunkCost,
	"mustChunk":                  chunkCost,
	"concat":                     concatCost,
	"append":                     appendCost,
	"push":                       appendCost,
	"prepend":                    appendCost,
	"mustAppend":                 appendCost,
	"mustPush":                   appendCost,
	"mustPrepend":                appendCost,
	"fromJson":                   decodeCost,
	"mustFromJson":               decodeCost,
	"fromYaml":                   decodeCost,
	"b64enc":                     func(_ *budget.Budget, a []reflect.Value) (int64, error) { return 2 * int64(a[0].Len()), nil },
	"b32enc":                     func(_ *budget.Budget, a []reflect.Value) (int64, error) { return 2 * int64(a[0].Len()), nil },
	"regexReplaceAll":            regexCost(false),
	"mustRegexReplaceAll":        regexCost(false),
	"regexReplaceAllLiteral":     regexCost(true),
	"mustRegexReplaceAllLiteral": regexCost(true),
	"regexFindAll":               regexListCost,
	"mustRegexFindAll":           regexListCost,
	"regexSplit":                 regexListCost,
	"mustRegexSplit":             regexListCost,
	"html":                       escapeCost,
	"js":                         escapeCost,
	"urlquery":                   escapeCost,
}

func indentCost(b *budget.Budget, a []reflect.Value) (int64, error) {
	n, s := argInt(a[0]), a[1].String()
	if err := b.Width("indent", n); err != nil {
		return 0, err
	}
	return int64(len(s)) + max(n, 0)*(count(s, "\n")+2), nil
}

func wrapCost(b *budget.Budget, width int64, sep, s string) (int64, error) {
	breaks := int64(len(s))/max(width, 1) + 1
	return int64(len(s)) + breaks*int64(max(len(sep), 1)), nil
}

// printfWidths refuses widths and precisions beyond budget.MaxWidth: fmt
// pads in its own buffer, so "%999999999d" allocates a GiB before anything
// could refuse the result.
func printfWidths(b *budget.Budget, format string, args reflect.Value) error {
	star := false
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		for i++; i < len(format); i++ {
			c := format[i]
			switch {
			case c == '*':
				star = true
			case c >= '0' && c <= '9':
				j := i
				for j < len(format) && format[j] >= '0' && format[j] <= '9' {
					j++
				}
				n := int64(0)
				for _, d := range format[i:min(j, i+6)] {
					n = n*10 + int64(d-'0')
				}
				if j-i > 6 {
					n = budget.MaxWidth + 1
				}
				if err := b.Width("printf", n); err != nil {
					return err
				}
				i = j - 1
			case strings.IndexByte("+-# .[]", c) >= 0:
			default:
				goto next
			}
		}
	next:
	}
	if star {
		for i := 0; i < args.Len(); i++ {
			if err := b.Width("printf", argInt(args.Index(i))); err != nil {
				return err
			}
		}
	}
	return nil
}

func splitCost(sepArg, sArg int, perPiece int64) preCheck {
	return func(b *budget.Budget, a []reflect.Value) (int64, error) {
		s := a[sArg].String()
		n := count(s, a[sepArg].String()) + 1
		return perPiece*n + int64(len(s)), b.Len("split", n)
	}
}

func chunkCost(b *budget.Budget, a []reflect.Value) (int64, error) {
	size, n := argInt(a[0]), listLen(a[1])
	if size < 1 {
		return 0, errors.New("chunk size must be at least 1")
	}
	return 40 * n, b.Len("chunk", n)
}

func concatCost(b *budget.Budget, a []reflect.Value) (int64, error) {
	var n int64
	for i := 0; i < a[0].Len(); i++ {
		n += listLen(a[0].Index(i))
	}
	return 16 * n, b.Len("concat", n)
}

func appendCost(b *budget.Budget, a []reflect.Value) (int64, error) {
	n := listLen(a[0]) + 1
	return 16 * n, b.Len("append", n)
}

// decodeCost: a decoded document takes several times its text.
func decodeCost(_ *budget.Budget, a []reflect.Value) (int64, error) {
	return decodeFactor * int64(a[0].Len()), nil
}

func escapeCost(b *budget.Budget, a []reflect.Value) (int64, error) {
	n, err := b.ValueSize(a[0].Interface(), b.Room())
	return 6 * n, err
}

// regexCost counts the matches before the replacement is built: the result
// grows with each match by the replacement, and by a copy of a group for
// every $ in it.
func regexCost(literal bool) preCheck {
	return func(b *budget.Budget, a []reflect.Value) (int64, error) {
		re, err := regexp.Compile(a[0].String())
		if err != nil {
			return 0, nil // the function itself reports it
		}
		s, repl := a[1].String(), a[2].String()
		matches, longest, err := countMatches(b, re, s)
		if err != nil {
			return 0, err
		}
		per := int64(len(repl))
		if !literal {
			per += count(repl, "$") * longest
		}
		return int64(len(s)) + matches*per, nil
	}
}

func regexListCost(b *budget.Budget, a []reflect.Value) (int64, error) {
	re, err := regexp.Compile(a[0].String())
	if err != nil {
		return 0, nil
	}
	s := a[1].String()
	matches, _, err := countMatches(b, re, s)
	if err != nil {
		return 0, err
	}
	return 16*(matches+1) + int64(len(s)), b.Len("regex", matches)
}

// countMatches walks the matches of re in s without keeping them, checking
// the deadline as it goes.
func countMatches(b *budget.Budget, re *regexp.Regexp, s string) (n, longest int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(error)
			if !ok {
				panic(r)
			}
			err = e
		}
	}()
	re.ReplaceAllStringFunc(s, func(m string) string {
		n++
		longest = max(longest, int64(len(m)))
		if n&1023 == 0 {
			must(b.Check())
		}
		return ""
	})
	return n, longest, nil
}

// uniq is sprig's mustUniq (the first of equal elements, in order), with
// the deadline checked per element: it compares each element with all kept
// ones, so a long list takes quadratic time.
func (m *meter) uniq(list any) ([]any, error) {
	v := reflect.ValueOf(list)
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
	default:
		return nil, fmt.Errorf("Cannot find uniq on type %s", v.Kind())
	}
	var dest []any
	for i := 0; i < v.Len(); i++ {
		must(m.b.Check())
		item := v.Index(i).Interface()
		dup := false
		for _, d := range dest {
			if reflect.DeepEqual(d, item) {
				dup = true
				break
			}
		}
		if !dup {
			dest = append(dest, item)
		}
	}
	if dest == nil {
		dest = []any{}
	}
	return dest, nil
}

// instrument rewrites a parsed template so that it checks its budget itself:
// a step at the start of every range iteration, an enter and a leave around
// every template body (a call, or the generator itself), and a last stage on
// every printing action that prices what it prints (and, with missingKey
// error or zero, handles a printed nil: see stage).
func instrument(t *template.Template, stage string) {
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		tree := tt.Tree
		rewrite(tree, tree.Root, stage)
		root := tree.Root
		root.Nodes = append([]parse.Node{call(tree, root.Pos, enterFunc)}, append(root.Nodes, call(tree, root.Pos, leaveFunc))...)
	}
}

// call is an action that calls an internal function and prints nothing.
func call(tree *parse.Tree, pos parse.Pos, fn string) *parse.ActionNode {
	id := parse.NewIdentifier(fn).SetTree(tree).SetPos(pos)
	cmd := &parse.CommandNode{NodeType: parse.NodeCommand, Pos: pos, Args: []parse.Node{id}}
	pipe := &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Cmds: []*parse.CommandNode{cmd}}
	return &parse.ActionNode{NodeType: parse.NodeAction, Pos: pos, Pipe: pipe}
}

func rewrite(tree *parse.Tree, n parse.Node, stage string) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			rewrite(tree, c, stage)
		}
	case *parse.ActionNode:
		if len(n.Pipe.Decl) == 0 { // declarations and assignments print nothing
			id := parse.NewIdentifier(stage).SetTree(tree).SetPos(n.Pos)
			n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: n.Pos, Args: []parse.Node{id}})
		}
	case *parse.IfNode:
		rewrite(tree, n.List, stage)
		rewrite(tree, n.ElseList, stage)
	case *parse.RangeNode:
		rewrite(tree, n.List, stage)
		rewrite(tree, n.ElseList, stage)
		if n.List != nil {
			n.List.Nodes = append([]parse.Node{call(tree, n.Pos, stepFunc)}, n.List.Nodes...)
		}
	case *parse.WithNode:
		rewrite(tree, n.List, stage)
		rewrite(tree, n.ElseList, stage)
	}
}

// checkNoInternal refuses a template that calls an internal function by
// name: their names are not part of the template language.
func checkNoInternal(t *template.Template) error {
	var found string
	var tree *parse.Tree
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		if found != "" || n == nil {
			return
		}
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.IdentifierNode:
			if strings.HasPrefix(n.Ident, internalPrefix) {
				loc, _ := tree.ErrorContext(n)
				found = fmt.Sprintf("template: %s: function %q not defined", loc, n.Ident)
			}
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			walk(n.Pipe)
		case *parse.ChainNode:
			walk(n.Node)
		}
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			tree = tt.Tree
			walk(tt.Tree.Root)
		}
	}
	if found != "" {
		return errors.New(found)
	}
	return nil
}
