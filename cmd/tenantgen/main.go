// Command tenantgen renders, applies and prunes per-tenant infrastructure for
// Capsule tenants. Everything lives in pkg/cli; this file only runs it.
package main

import (
	"os"

	"github.com/projectcapsule/tenantgen/pkg/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
