package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"techledger/transparency"
)

// The registration certificate page (/contracts/{id}/certificate, docs/console.md): the
// certificate of `techledger certificate` (transparency.Certificate), inside the console
// and printable, for the roles that read contracts.

// Proofs is what the certificate page reads of the transparency log.
type Proofs struct {
	// Log builds a contract's proof bundle at the latest signed checkpoint: a
	// *transparency.Log.
	Log Bundler
	// VerifierKey is the log's verifier key: a bundle is audited with it before its
	// certificate is shown.
	VerifierKey string
}

// Bundler builds proof bundles (transparency.Log.Bundle): ErrNoCheckpoint before the
// first checkpoint, ErrNotFound for a contract not in the signed tree.
type Bundler interface {
	Bundle(ctx context.Context, contractID string) (*transparency.Bundle, error)
}

// certificateQRPixels is the size of the QR code's image.
const certificateQRPixels = 256

func (c *Console) getCertificate(w http.ResponseWriter, r *http.Request, who Principal) {
	id := r.PathValue("id")
	b, err := c.cfg.Proofs.Log.Bundle(r.Context(), id)
	switch {
	case errors.Is(err, transparency.ErrNoCheckpoint):
		c.render(w, r, http.StatusNotFound, "error", who, map[string]any{"Title": "暂无登记证明",
			"Message": "透明日志尚未签署检查点，请稍后再试（the log has signed no checkpoint yet）。"})
		return
	case errors.Is(err, transparency.ErrNotFound):
		c.render(w, r, http.StatusNotFound, "error", who, map[string]any{"Title": "暂无登记证明",
			"Message": "合同 " + id + " 未登记，或其登记尚未进入已签署的检查点（registered a moment ago? the next checkpoint will cover it）。"})
		return
	case err != nil:
		c.failed(w, r, who, err)
		return
	}
	scheme := "http"
	if c.cfg.TLS {
		scheme = "https"
	}
	bundleURL := scheme + "://" + r.Host + "/v1/contracts/" + url.PathEscape(id) + "/bundle"
	cert, err := transparency.NewCertificate(b, c.cfg.Proofs.VerifierKey, bundleURL)
	if err != nil { // the log's own bundle does not audit: something is badly wrong
		c.failed(w, r, who, err)
		return
	}
	qr, err := cert.QRDataURL(certificateQRPixels)
	if err != nil {
		c.failed(w, r, who, err)
		return
	}
	c.render(w, r, http.StatusOK, "certificate", who, map[string]any{"Title": "技术合同登记证明", "Cert": cert, "QR": qr})
}
