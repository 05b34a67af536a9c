// Package banner puts the brand's single support contact on HTML pages
// served by outsourced vendors.
//
// It has three parts, all free of Caddy so they can be tested on their own:
//
//   - [Injector] streams a response body through, inserting the banner just
//     before the first </body> end tag (or appending it when there is none)
//     with a fixed amount of memory whatever the size of the page.
//   - [Template] renders the banner markup from [Data] with html/template and
//     knows the CSP hashes of its <style> element, which must be static.
//   - [AllowStyle] adds those hashes to a vendor's Content-Security-Policy so
//     the banner's <style> element is allowed without loosening the policy.
//
// The banner never needs a script or a style attribute, so a vendor's strict
// CSP at worst leaves it unstyled, never hidden.
package banner
