//go:build !linux

package render

import "time"

// threadCPU is not measured here: FuzzRender then bounds only wall time.
func threadCPU() time.Duration { return 0 }

// ThreadCPU lends threadCPU to the external tests.
var ThreadCPU = threadCPU
