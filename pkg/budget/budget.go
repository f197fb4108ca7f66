// Package budget bounds what one render may spend: time until a deadline,
// bytes charged by whatever allocates in proportion to its input (template
// functions, output, decoding), template call depth and objects decoded.
//
// text/template cannot be interrupted from outside, and a goroutine that runs
// a template cannot be killed, so a render is never given up by abandoning it:
// the render checks its Budget itself, at every loop iteration, template call,
// function call, write and decoded document, and stops with an *Exceeded as
// soon as one limit is reached. Nothing keeps running after that.
//
// A Budget belongs to one render and is not safe for concurrent use.
package budget

import (
	"fmt"
	"reflect"
	"time"
)

// Limits of a render that are not configurable per GlobalTenantResource. The
// memory bound is a charge, not a measurement: every function whose result
// grows with its arguments charges the size of that result (estimated before
// it is built, so that a huge one is never built), and so do the output and
// its decoding. What the runtime really allocates stays within a small factor
// of the charge (see README, "Render budgets").
const (
	// DefaultMemory is the charge one render may make.
	DefaultMemory = 32 << 20
	// MaxValue bounds the size of one value a function formats, serialises
	// or copies, and of one value printed.
	MaxValue = 16 << 20
	// MaxDepth bounds nested template calls ({{ template }} recursion): each
	// level costs the goroutine several KiB of stack.
	MaxDepth = 100
	// MaxLen bounds the length of any list or the count of any repetition a
	// template function is asked to build (until, seq, repeat, splitList...).
	MaxLen = 100_000
	// MaxWidth bounds printf widths and precisions and indent counts.
	MaxWidth = 1000
)

// Names of the limits, as errors name them.
const (
	LimitTime    = "limits.renderTimeout"
	LimitObjects = "limits.maxObjectsPerTenant"
	LimitMemory  = "render memory"
	LimitDepth   = "template depth"
	LimitLength  = "function argument size"
	LimitOutput  = "output size"
)

// Exceeded is the error of a render that hit a limit.
type Exceeded struct {
	// Limit names the limit, one of the Limit* constants.
	Limit string
	// Detail says what was asked and what the limit is.
	Detail string
}

func (e *Exceeded) Error() string { return "render exceeded " + e.Limit + ": " + e.Detail }

// Budget is what one render may still spend.
type Budget struct {
	// deadline is read from the clock at every check (tens of nanoseconds): a
	// timer setting a flag would be cheaper, but on a busy machine it fires
	// late, and the bound is renderTimeout + 100 ms.
	deadline time.Time
	timeout  time.Duration
	memory   int64 // the whole charge allowed
	used     int64
	depth    int
	err      *Exceeded // sticky: once exceeded, every check fails
}

// New starts a budget of the given time and memory charge.
func New(timeout time.Duration, memory int64) *Budget {
	return &Budget{deadline: time.Now().Add(timeout), timeout: timeout, memory: memory}
}

// Err is the limit hit so far, nil if none.
func (b *Budget) Err() error {
	if b.err == nil {
		return nil
	}
	return b.err
}

func (b *Budget) exceed(limit, format string, args ...any) error {
	if b.err == nil {
		b.err = &Exceeded{Limit: limit, Detail: fmt.Sprintf(format, args...)}
	}
	return b.err
}

// Check fails once the deadline has passed.
func (b *Budget) Check() error {
	if b.err != nil {
		return b.err
	}
	if time.Now().After(b.deadline) {
		return b.exceed(LimitTime, "the render ran longer than %v", b.timeout)
	}
	return nil
}

// Charge records n bytes about to be allocated and fails when they do not fit
// (or the deadline passed). A failed charge is not recorded: the caller must
// not allocate.
func (b *Budget) Charge(n int64) error {
	if err := b.Check(); err != nil {
		return err
	}
	if n < 0 || n > b.memory-b.used {
		return b.exceed(LimitMemory, "%s more would exceed the %s a render may allocate", Size(n), Size(b.memory))
	}
	b.used += n
	return nil
}

// Used is the charge so far.
func (b *Budget) Used() int64 { return b.used }

// Room is what may still be charged.
func (b *Budget) Room() int64 { return b.memory - b.used }

// Enter records a nested template call; Leave its end.
func (b *Budget) Enter() error {
	if err := b.Check(); err != nil {
		return err
	}
	if b.depth >= MaxDepth {
		return b.exceed(LimitDepth, "templates nest more than %d calls deep", MaxDepth)
	}
	b.depth++
	return nil
}

// Leave ends a template call.
func (b *Budget) Leave() { b.depth-- }

// Len fails when a function is asked to build more than MaxLen elements.
func (b *Budget) Len(fn string, n int64) error {
	if n > MaxLen || n < -MaxLen {
		return b.exceed(LimitLength, "%s asked for %d elements, more than %d", fn, n, MaxLen)
	}
	return b.Check()
}

// Width fails on a printf width, precision or indent beyond MaxWidth.
func (b *Budget) Width(fn string, n int64) error {
	if n > MaxWidth || n < -MaxWidth {
		return b.exceed(LimitLength, "%s asked for a width of %d, more than %d", fn, n, MaxWidth)
	}
	return b.Check()
}

// Exceed fails the render on a limit found by the caller.
func (b *Budget) Exceed(limit, format string, args ...any) error {
	return b.exceed(limit, format, args...)
}

// Size formats a byte count for messages.
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Approximate costs of values, in bytes: what formatting or copying them takes.
const (
	scalarCost = 16
	entryCost  = 48
)

// ValueSize estimates what printing, serialising or copying v costs, walking
// it as those do, and stops as soon as the estimate passes limit. Walking is
// what makes it sound: a value built by sharing (a list holding itself twice,
// sixty times over) is small in memory but astronomically large once printed,
// and only a walk sees that. The walk checks the deadline as it goes.
func (b *Budget) ValueSize(v any, limit int64) (int64, error) {
	w := walker{b: b, limit: min(limit, MaxValue)}
	w.walkAny(v)
	return w.size, w.err
}

type walker struct {
	b     *Budget
	limit int64
	size  int64
	nodes int
	err   error
}

func (w *walker) add(n int64) bool {
	w.size += n
	if w.size > w.limit {
		w.err = w.b.exceed(LimitMemory, "a value of more than %s was passed to a function or printed", Size(w.limit))
		return false
	}
	w.nodes++
	if w.nodes&1023 == 0 {
		if w.err = w.b.Check(); w.err != nil {
			return false
		}
	}
	return true
}

// walkAny handles the types template data and sprig results are made of
// without reflection, which is several times slower.
func (w *walker) walkAny(x any) {
	if w.err != nil {
		return
	}
	switch t := x.(type) {
	case nil, bool, int, int64, float64:
		w.add(scalarCost)
	case string:
		w.add(int64(len(t)) + 2)
	case []any:
		if w.add(scalarCost) {
			for _, e := range t {
				if w.err != nil {
					return
				}
				w.walkAny(e)
			}
		}
	case map[string]any:
		if w.add(scalarCost) {
			for k, e := range t {
				if w.err != nil || !w.add(entryCost+int64(len(k))) {
					return
				}
				w.walkAny(e)
			}
		}
	default:
		w.walk(reflect.ValueOf(x))
	}
}

func (w *walker) walk(v reflect.Value) {
	if w.err != nil {
		return
	}
	switch v.Kind() {
	case reflect.Invalid:
		w.add(scalarCost)
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			w.add(scalarCost)
			return
		}
		if v.Kind() == reflect.Interface && v.CanInterface() {
			w.walkAny(v.Interface())
			return
		}
		w.walk(v.Elem())
	case reflect.String:
		w.add(int64(v.Len()) + 2)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			w.add(int64(v.Len()))
			return
		}
		if !w.add(scalarCost) {
			return
		}
		for i := 0; i < v.Len() && w.err == nil; i++ {
			w.walk(v.Index(i))
		}
	case reflect.Map:
		if m, ok := v.Interface().(map[string]any); ok {
			w.walkAny(m)
			return
		}
		if !w.add(scalarCost) {
			return
		}
		it := v.MapRange()
		for it.Next() && w.err == nil {
			if w.add(entryCost) {
				w.walk(it.Key())
				w.walk(it.Value())
			}
		}
	case reflect.Struct:
		if !w.add(scalarCost) {
			return
		}
		for i := 0; i < v.NumField() && w.err == nil; i++ {
			w.walk(v.Field(i))
		}
	default:
		w.add(scalarCost)
	}
}

// ShallowSize is what a function result itself holds (its elements are
// charged where they were made): a string's bytes, a list's slots, a map's entries.
func ShallowSize(v reflect.Value) int64 {
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return 0
		}
		return ShallowSize(v.Elem())
	case reflect.String:
		return int64(v.Len())
	case reflect.Slice:
		return int64(v.Len()) * int64(max(v.Type().Elem().Size(), 1))
	case reflect.Map:
		return int64(v.Len()) * entryCost
	}
	return 0
}
