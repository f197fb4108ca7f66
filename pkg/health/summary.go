package health

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

// maxSamples bounds how many unhealthy objects a message names.
const maxSamples = 3

// Summary tallies the health of one tenant's objects, for its Healthy
// condition. Failed objects are named before objects in progress.
type Summary struct {
	Objects, InProgress, Failed int
	failed, progressing         []string
}

// Add counts one object; what names it (e.g. Gateway ns/name).
func (s *Summary) Add(what string, r Result) {
	s.Objects++
	switch r.Status {
	case Current:
	case Failed:
		s.Failed++
		if len(s.failed) < maxSamples {
			s.failed = append(s.failed, what+": "+r.Message)
		}
	default:
		s.InProgress++
		if len(s.progressing) < maxSamples {
			s.progressing = append(s.progressing, what+": "+r.Message)
		}
	}
}

// Unhealthy is the number of objects that are not Current.
func (s *Summary) Unhealthy() int { return s.Failed + s.InProgress }

// Condition is the tenant's Healthy condition: True when every object is
// Current, False when one failed, Unknown while some are in progress.
func (s *Summary) Condition() metav1.Condition {
	c := metav1.Condition{Type: v1alpha1.ConditionHealthy}
	switch {
	case s.Failed > 0:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonUnhealthy
	case s.InProgress > 0:
		c.Status, c.Reason = metav1.ConditionUnknown, v1alpha1.ReasonHealthPending
	default:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonHealthy
		c.Message = fmt.Sprintf("%d objects healthy", s.Objects)
		return c
	}
	var counts []string
	if s.Failed > 0 {
		counts = append(counts, fmt.Sprintf("%d failed", s.Failed))
	}
	if s.InProgress > 0 {
		counts = append(counts, fmt.Sprintf("%d in progress", s.InProgress))
	}
	samples := append(append([]string(nil), s.failed...), s.progressing...)
	if len(samples) > maxSamples {
		samples = samples[:maxSamples]
	}
	c.Message = fmt.Sprintf("%d of %d objects not healthy (%s): %s", s.Unhealthy(), s.Objects,
		strings.Join(counts, ", "), strings.Join(samples, "; "))
	return c
}
