package errorpage_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/frontdoor-dev/frontdoor/internal/errorpage"
)

// An API client whose vendor timed out gets JSON with the brand's contact.
func ExampleTemplate_Render() {
	tmpl, err := errorpage.ParseTemplate(errorpage.DefaultTemplate)
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest(http.MethodGet, "https://shop.example.com/track/123", nil)
	r.Header.Set("Accept", "application/json, text/plain, */*")
	w := httptest.NewRecorder()
	err = tmpl.Render(w, r, errorpage.Page{
		Status:    http.StatusGatewayTimeout,
		Brand:     "Acme Outdoor",
		Phone:     "+1 800 555 0100",
		URL:       "https://acme.example/help",
		Reference: "0f8fad5b",
		Journey:   "tracking",
	})
	fmt.Println(err, w.Code, w.Header().Get("Content-Type"))
	fmt.Print(w.Body)
	// Output:
	// <nil> 504 application/json
	// {"error":"This service took too long to answer","status":504,"reference":"0f8fad5b","contact":{"phone":"+1 800 555 0100","url":"https://acme.example/help"},"brand":"Acme Outdoor"}
}
