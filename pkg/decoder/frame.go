package decoder

import (
	"io"

	jsonserializer "k8s.io/apimachinery/pkg/runtime/serializer/json"
)

// framer splits a JSON watch stream into its events. apimachinery's JSON
// framer finds the end of each event with encoding/json's Decoder, which
// scans it byte by byte through its validating state machine, then checks
// it again and copies it: about half of what decoding the watches cost
// after the one-pass decoder. This one only follows strings and brackets
// to the end of the object (skip); the event decoder validates what it
// parses.
type framer struct{}

func (framer) NewFrameReader(r io.ReadCloser) io.ReadCloser { return &frameReader{r: r} }

func (framer) NewFrameWriter(w io.Writer) io.Writer {
	return jsonserializer.Framer.NewFrameWriter(w)
}

// minRead is the least a frameReader asks its reader for.
const minRead = 32 << 10

// frameReader returns one JSON object of the stream per Read, as
// apimachinery's JSON frame reader does: a frame longer than the caller's
// buffer comes in parts, each but the last with io.ErrShortBuffer (the
// watch decoder then grows its buffer). Whitespace between objects is
// skipped; anything else between them is an error.
type frameReader struct {
	r    io.ReadCloser
	buf  []byte // buf[off:] is read from r and not yet returned
	off  int
	rest []byte // the part of the last frame the caller's buffer could not hold
	err  error  // r's error, returned once buf holds no whole object
}

func (f *frameReader) Read(data []byte) (int, error) {
	if len(f.rest) == 0 {
		frame, err := f.next()
		if err != nil {
			return 0, err
		}
		f.rest = frame
	}
	n := copy(data, f.rest)
	f.rest = f.rest[n:]
	if len(f.rest) > 0 {
		return n, io.ErrShortBuffer
	}
	return n, nil
}

func (f *frameReader) Close() error { return f.r.Close() }

// next returns the next object of the stream: a slice of buf, valid until
// the call after.
func (f *frameReader) next() ([]byte, error) {
	for {
		p := parser{data: f.buf[f.off:]}
		p.space()
		f.off += p.i
		if f.off < len(f.buf) {
			p = parser{data: f.buf[f.off:]}
			if p.data[0] != '{' {
				return nil, p.fail("expected an object")
			}
			err := p.skip()
			if err == nil {
				frame := p.data[:p.i]
				f.off += p.i
				return frame, nil
			}
			if p.i < len(p.data) {
				return nil, err // not for want of data (nested too deeply)
			}
		}
		if f.err != nil {
			if f.err == io.EOF && f.off < len(f.buf) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, f.err
		}
		f.fill()
	}
}

// fill moves the unread bytes to the front of buf and reads more after
// them: at least as many as are unread, so that an object larger than
// one read is scanned again a logarithmic number of times, not once per
// read.
func (f *frameReader) fill() {
	n := copy(f.buf, f.buf[f.off:])
	f.buf, f.off = f.buf[:n], 0
	if want := n + max(n, minRead); cap(f.buf) < want {
		grown := make([]byte, n, want)
		copy(grown, f.buf)
		f.buf = grown
	}
	m, err := f.r.Read(f.buf[n:cap(f.buf)])
	f.buf = f.buf[:n+m]
	f.err = err
}
