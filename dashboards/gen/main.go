// Command gen writes frontdoor's Grafana dashboard, built in Go by
// dashboards.Dashboard, to the file named by its argument (go generate runs
// it in dashboards/ as `go run ./gen frontdoor.json`).
package main

import (
	"fmt"
	"os"

	"github.com/frontdoor-dev/frontdoor/dashboards"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./gen <dashboard.json>")
		os.Exit(2)
	}
	out, err := dashboards.GenerateDashboardJSON()
	if err == nil {
		err = os.WriteFile(os.Args[1], out, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
