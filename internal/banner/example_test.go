package banner_test

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/frontdoor-dev/frontdoor/internal/banner"
)

// The integration in short: render the banner for the request, let the page
// allow its style, and stream the (already decompressed) body through a
// pooled Injector.
func Example() {
	tmpl, err := banner.ParseTemplate(`<style>.frontdoor-b{font-weight:bold}</style>` +
		`<p class="frontdoor-b">Call {{.Brand}} on <a href="tel:{{tel .Phone}}">{{.Phone}}</a></p>`)
	if err != nil {
		panic(err)
	}
	markup, err := tmpl.Render(banner.Data{Brand: "Acme", Phone: "+1 800 555 0100"})
	if err != nil {
		panic(err)
	}

	csp := banner.AllowStyle("default-src 'self'; style-src 'nonce-r4nd0m'", tmpl.StyleHashes())
	fmt.Println(strings.Replace(csp, tmpl.StyleHashes()[0], "'sha256-...'", 1))

	pool := sync.Pool{New: func() any { return new(banner.Injector) }}
	inj := pool.Get().(*banner.Injector)
	inj.Reset(os.Stdout, markup)
	for _, chunk := range []string{"<html><body><h1>Vendor page</h1></bo", "dy></html>\n"} {
		if _, err := inj.Write([]byte(chunk)); err != nil {
			panic(err)
		}
	}
	result, err := inj.Close()
	inj.Reset(nil, nil)
	pool.Put(inj)
	fmt.Println(result, err)
	// Output:
	// default-src 'self'; style-src 'nonce-r4nd0m' 'sha256-...'
	// <html><body><h1>Vendor page</h1><style>.frontdoor-b{font-weight:bold}</style><p class="frontdoor-b">Call Acme on <a href="tel:&#43;18005550100">&#43;1 800 555 0100</a></p></body></html>
	// injected <nil>
}
