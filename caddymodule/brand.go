package caddymodule

import (
	"fmt"
	"net/http"
	"os"
	"strconv"

	"github.com/frontdoor-dev/frontdoor/internal/banner"
	"github.com/frontdoor-dev/frontdoor/internal/errorpage"
	"github.com/frontdoor-dev/frontdoor/internal/shopper"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// provisionBrandPages parses the banner and error page templates once.
func (h *Handler) provisionBrandPages() error {
	bannerText, err := templateText(h.BannerTemplate, banner.DefaultTemplate)
	if err != nil {
		return fmt.Errorf("banner_template: %w", err)
	}
	bannerTemplate, err := banner.ParseTemplate(bannerText)
	if err != nil {
		return fmt.Errorf("banner_template %s: %w", h.BannerTemplate, err)
	}
	h.bannerStyleHashes = bannerTemplate.StyleHashes()
	// Everything but the reference is known now: render it once.
	h.bannerPage, err = bannerTemplate.Bind(banner.Data{Brand: h.Brand, Phone: h.Contact.Phone, Email: h.Contact.Email, URL: h.Contact.URL})
	if err != nil {
		return fmt.Errorf("banner_template %s: %w", h.BannerTemplate, err)
	}
	if err := h.bindFeedbackBanners(bannerTemplate); err != nil {
		return fmt.Errorf("banner_template %s: %w", h.BannerTemplate, err)
	}

	errorText, err := templateText(h.ErrorTemplate, errorpage.DefaultTemplate)
	if err != nil {
		return fmt.Errorf("error_template: %w", err)
	}
	if h.errorTemplate, err = errorpage.ParseTemplate(errorText); err != nil {
		return fmt.Errorf("error_template %s: %w", h.ErrorTemplate, err)
	}
	return nil
}

func templateText(file, fallback string) (string, error) {
	if file == "" {
		return fallback, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// brandError answers with the brand error page instead of a backend's
// failure, and logs the cause for ops with the reference the customer has.
func (h *Handler) brandError(w http.ResponseWriter, r *http.Request, journey, backend string, status int, requestID string, cause error) {
	if cause != nil {
		h.logger.Error("journey failed, brand error page shown",
			zap.String("journey", journey), zap.String("backend", backend), zap.Int("status", status),
			zap.String("request_id", requestID), zap.Error(cause))
	} else if c := h.logger.Check(zapcore.DebugLevel, "backend error replaced by brand error page"); c != nil {
		c.Write(zap.String("journey", journey), zap.String("backend", backend), zap.Int("status", status),
			zap.String("request_id", requestID))
	}
	if v := shopper.VisitOf(r.Context()); v != nil {
		v.ErrorPageShown(status)
	} else {
		h.metrics.errorPage(journey, backend, status)
	}
	page := errorpage.Page{Status: status, Brand: h.Brand, Phone: h.Contact.Phone, Email: h.Contact.Email,
		URL: h.Contact.URL, Reference: requestID, Journey: journey}
	w.Header().Set(headerRequest, requestID)
	if err := h.errorTemplate.Render(w, r, page); err != nil {
		h.logger.Error("rendering brand error page", zap.Error(err), zap.String("request_id", requestID))
		http.Error(w, http.StatusText(status)+" (reference "+requestID+")", status)
	}
}

func (m *metrics) errorPage(journey, backend string, status int) {
	m.errorPages.WithLabelValues(journey, backend, strconv.Itoa(status)).Inc()
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
}
