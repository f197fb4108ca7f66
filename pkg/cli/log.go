package cli

import (
	"flag"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// bindLogFlags adds controller-runtime's logging flags (--zap-log-level,
// --zap-devel, --zap-encoder, --zap-stacktrace-level, --zap-time-encoding)
// to a command: they are what a kubebuilder-scaffolded controller takes, so
// what users of controller-runtime operators already pass and chart values
// already carry.
func bindLogFlags(f *pflag.FlagSet) *zap.Options {
	opts := &zap.Options{}
	gofs := flag.NewFlagSet("zap", flag.ContinueOnError)
	opts.BindFlags(gofs)
	f.AddGoFlagSet(gofs)
	return opts
}

// newLogger builds the controller's logger from the flags; dev (the older
// --dev-logs) is --zap-devel by another name.
func newLogger(opts *zap.Options, dev bool) logr.Logger {
	o := *opts
	o.Development = o.Development || dev
	return zap.New(zap.UseFlagOptions(&o))
}
