package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/apiserver"
	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/remediate"
)

const (
	sessionCookie = "fleetd_session"
	// signinCookie carries the sign-in form's CSRF token (double submit):
	// there is no session yet to derive it from.
	signinCookie = "fleetd_signin"
	csrfField    = "csrf"
	// maxForm bounds a console form (a comment, a reason).
	maxForm = 16 << 10
)

// csp allows nothing inline and nothing from elsewhere: scripts, styles
// and images come from /ui/static/ only (inline SVG charts use
// presentation attributes, not style).
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// viewer is the signed-in person of a request, with what the templates need.
type viewer struct {
	auth.Session
	CSRF string
}

// Actor is the viewer as pkg/remediate sees them (as the API's
// remediationActor: the token's name and role).
func (v *viewer) actor() remediate.Actor { return remediate.Actor{Name: v.Name, Role: v.Role.String()} }

// csrfToken is derived from the session id, which only the cookie holds:
// a page from elsewhere can neither read it nor compute it.
func csrfToken(sid string) string {
	h := sha256.Sum256([]byte("csrf\x00" + sid))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func (c *Console) secure(r *http.Request) bool { return r.TLS != nil || c.deps.Config.SecureCookies }

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/ui/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteStrictMode})
}

var errCSRF = api.Errorf(http.StatusForbidden, api.CodeForbidden,
	"the form's CSRF token is missing or wrong; reload the page and try again")

// wrap applies, per page: the session, the role of the mirrored API
// route, the CSRF check of a state change, then the handler; an error it
// returns is rendered as an error page with the API's status and message.
func (c *Console) wrap(p page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v *viewer
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				c.renderError(w, r, nil, badRequest("unreadable form: %v", err))
				return
			}
		}
		if !p.Public {
			ck, err := r.Cookie(sessionCookie)
			var sess auth.Session
			if err == nil {
				sess, err = c.deps.Sessions.Lookup(r.Context(), ck.Value)
			}
			if err != nil {
				if !errors.Is(err, http.ErrNoCookie) && !errors.Is(err, auth.ErrNoSession) {
					c.renderError(w, r, nil, err)
					return
				}
				if r.Method == http.MethodGet {
					http.Redirect(w, r, "/ui/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				c.renderError(w, r, nil, api.Errorf(http.StatusUnauthorized, api.CodeUnauthorized,
					"not signed in, or the session expired: sign in again"))
				return
			}
			v = &viewer{Session: sess, CSRF: csrfToken(ck.Value)}
			if r.Method == http.MethodPost && !sameToken(r.PostForm.Get(csrfField), v.CSRF) {
				c.renderError(w, r, v, errCSRF)
				return
			}
			if !sess.Role.AtLeast(p.role) {
				c.renderError(w, r, v, api.Errorf(http.StatusForbidden, api.CodeForbidden,
					"this page needs role %s or higher (as %s %s in the API); you are %s, role %s",
					p.role, p.APIMethod, p.APIPath, sess.Name, sess.Role))
				return
			}
		}
		if err := p.Handler(w, r, v); err != nil {
			c.renderError(w, r, v, err)
		}
	})
}

// renderError shows err as a page, with the status and message the API
// would answer.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	e := apiserver.ErrorOf(err)
	if e.Status >= 500 {
		c.log.Error("console page failed", zap.String("path", r.URL.Path), zap.Error(err))
		if e.Message == "" {
			e.Message = "internal error; the server log has the details"
		}
	}
	c.render(w, r, e.Status, "error", v, e)
}

type signInData struct {
	CSRF, Next, Error string
}

func (c *Console) signInForm(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	return c.showSignIn(w, r, http.StatusOK, "")
}

func (c *Console) showSignIn(w http.ResponseWriter, r *http.Request, status int, msg string) error {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	c.setCookie(w, r, signinCookie, tok, 600)
	c.render(w, r, status, "signin", nil, signInData{CSRF: tok, Next: safeNext(r.FormValue("next")), Error: msg})
	return nil
}

// safeNext keeps a redirect after sign-in on the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	ck, err := r.Cookie(signinCookie)
	if err != nil || !sameToken(r.PostForm.Get(csrfField), ck.Value) {
		return errCSRF
	}
	sid, sess, err := c.deps.Sessions.Start(r.Context(), strings.TrimSpace(r.PostForm.Get("token")))
	if errors.Is(err, auth.ErrInvalidToken) {
		return c.showSignIn(w, r, http.StatusUnauthorized, "That token is invalid or revoked.")
	}
	if err != nil {
		return err
	}
	c.setCookie(w, r, signinCookie, "", -1)
	c.setCookie(w, r, sessionCookie, sid, int(sess.ExpiresAt.Sub(c.now()).Seconds()))
	c.log.Info("console sign-in", zap.String("actor", sess.Name), zap.String("role", sess.Role.String()))
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
	return nil
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if err := c.deps.Sessions.End(r.Context(), ck.Value); err != nil {
			return err
		}
	}
	c.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/ui/signin", http.StatusSeeOther)
	return nil
}
