package decoder

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	kframer "k8s.io/apimachinery/pkg/util/framer"
)

// readFrames reads frames as client-go's watch decoder does: with a buffer
// of size, joining the parts of a frame that came with io.ErrShortBuffer.
func readFrames(r io.ReadCloser, size int) ([]string, error) {
	var out []string
	buf := make([]byte, size)
	var cur []byte
	for {
		n, err := r.Read(buf)
		cur = append(cur, buf[:n]...)
		switch err {
		case io.ErrShortBuffer:
		case nil:
			out = append(out, string(cur))
			cur = nil
		default:
			return out, err
		}
	}
}

const stream = `{"type":"ADDED","object":{"kind":"ConfigMap","data":{"brace":"}{][","quote":"\"}","slash":"\\"}}}
{"type":"MODIFIED","object":{"a":[1,{"b":[]},"]"],"n":null}}` + "\r\n\t " + `{"type":"DELETED","object":{}}` + "\n"

func TestFramesLikeApimachinery(t *testing.T) {
	want, err := readFrames(kframer.NewJSONFramedReader(io.NopCloser(strings.NewReader(stream))), 4096)
	if err != io.EOF || len(want) != 3 {
		t.Fatalf("apimachinery's framer: %d frames, %v", len(want), err)
	}
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"halves":   iotest.HalfReader,
	}
	for name, wrap := range readers {
		for _, size := range []int{1, 7, 4096} {
			got, err := readFrames(framer{}.NewFrameReader(io.NopCloser(wrap(strings.NewReader(stream)))), size)
			if err != io.EOF {
				t.Errorf("%s, buffer %d: error %v, want io.EOF", name, size, err)
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("%s, buffer %d:\n got %q\nwant %q", name, size, got, want)
			}
		}
	}
}

func TestFramesLargeObject(t *testing.T) {
	big := `{"data":"` + strings.Repeat(`x\"{`, 300_000) + `"}`
	in := big + "\n" + big
	got, err := readFrames(framer{}.NewFrameReader(io.NopCloser(iotest.HalfReader(strings.NewReader(in)))), 512)
	if err != io.EOF || len(got) != 2 || got[0] != big || got[1] != big {
		t.Fatalf("got %d frames (%v), want 2 of %d bytes", len(got), err, len(big))
	}
}

func TestFramesErrors(t *testing.T) {
	for _, c := range []struct {
		in     string
		frames int
		want   func(error) bool
	}{
		{`{"a":1}{"b":`, 1, func(err error) bool { return err == io.ErrUnexpectedEOF }},
		{`{"a":"open`, 0, func(err error) bool { return err == io.ErrUnexpectedEOF }},
		{`{"a":1} x {"b":2}`, 1, func(err error) bool { var se *SyntaxError; return errors.As(err, &se) }},
		{`[1]`, 0, func(err error) bool { var se *SyntaxError; return errors.As(err, &se) }},
		{"  \n", 0, func(err error) bool { return err == io.EOF }},
	} {
		got, err := readFrames(framer{}.NewFrameReader(io.NopCloser(strings.NewReader(c.in))), 64)
		if len(got) != c.frames || !c.want(err) {
			t.Errorf("%q: %d frames, error %v", c.in, len(got), err)
		}
	}
	// The reader's error comes after the whole objects read before it.
	broken := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader(`{"a":1}{"b":`), iotest.ErrReader(broken))
	got, err := readFrames(framer{}.NewFrameReader(io.NopCloser(r)), 64)
	if len(got) != 1 || !errors.Is(err, broken) {
		t.Errorf("after a reader error: %q, %v", got, err)
	}
}

// FuzzFrames: a stream of objects that apimachinery's framer splits
// without error is split the same way.
func FuzzFrames(f *testing.F) {
	f.Add([]byte(stream))
	for _, c := range cases {
		f.Add([]byte(c + c))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, err := readFrames(kframer.NewJSONFramedReader(io.NopCloser(bytes.NewReader(in))), 4096)
		if err != io.EOF {
			return
		}
		for _, w := range want {
			if w[0] != '{' {
				return // a watch event is an object; this framer frames nothing else
			}
		}
		got, err := readFrames(framer{}.NewFrameReader(io.NopCloser(iotest.HalfReader(bytes.NewReader(in)))), 16)
		if err != io.EOF || strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("got %q (%v), want %q", got, err, want)
		}
	})
}

// watchStream is n watch events of the test Gateway, as kube-apiserver
// writes them (one per line).
func watchStream(b *testing.B, n int) []byte {
	var s bytes.Buffer
	for range n {
		s.WriteString(`{"type":"MODIFIED","object":`)
		s.Write(gatewayJSON(b))
		s.WriteString("}\n")
	}
	return s.Bytes()
}

func benchmarkFrames(b *testing.B, newReader func(io.ReadCloser) io.ReadCloser) {
	data := watchStream(b, 100)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		got, err := readFrames(newReader(io.NopCloser(bytes.NewReader(data))), 16<<10)
		if err != io.EOF || len(got) != 100 {
			b.Fatalf("%d frames, %v", len(got), err)
		}
	}
}

func BenchmarkFrames(b *testing.B) { benchmarkFrames(b, framer{}.NewFrameReader) }

func BenchmarkFramesApimachinery(b *testing.B) { benchmarkFrames(b, kframer.NewJSONFramedReader) }
