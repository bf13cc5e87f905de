//go:build linux

// Package registry is minidocker's client of the OCI distribution API
// (distribution-spec/spec.md), the protocol of Docker Hub, docker-registry
// and every other image registry. It is written by hand, with only the
// standard library, on purpose: a learner reads here the whole exchange
// that a library (go-containerregistry, oras-go) would hide, and Debug
// prints it as it happens.
//
//	GET  /v2/                               401 and WWW-Authenticate: how to log in
//	GET  REALM?service=S&scope=repository:NAME:pull   a bearer token
//	GET  /v2/NAME/manifests/TAG|DIGEST      a manifest, or an index of them
//	GET  /v2/NAME/blobs/DIGEST              the config, then every layer
//	HEAD /v2/NAME/blobs/DIGEST              push: does the registry have it?
//	POST /v2/NAME/blobs/uploads/            push: start an upload (Location)
//	PUT  LOCATION?digest=DIGEST             push: the blob, in one request
//	PUT  /v2/NAME/manifests/TAG             push: the manifest, last
//
// Everything fetched is named by its sha256 and checked against it while
// it streams; a blob that does not hash to its name, or has another size
// than its descriptor says, is refused before anything is stored.
package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
)

// Credentials are a user name and password (or token) for one registry.
type Credentials struct {
	User, Password string
}

// Client talks to registries.
type Client struct {
	// Debug, when not nil, receives one line per HTTP request and status.
	Debug io.Writer
	// Insecure lists hosts (host or host:port) spoken to in plain HTTP,
	// besides loopback ones, which always are.
	Insecure []string
	// CertDirs are directories with <host:port>/ca.crt files, trusted as
	// well as the system's CAs for that registry.
	CertDirs []string
	// Auth returns the credentials kept for a registry host, if any.
	Auth func(host string) (Credentials, bool)
	// Timeout bounds how long a registry may keep us waiting: for the
	// headers of an answer, and between two reads of its body (0: 30s).
	Timeout time.Duration
}

// defaultTimeout is Client.Timeout's default: long enough for a slow
// registry behind a slow link, short enough that a registry that accepts
// the connection and never answers does not hang a pull for ever.
const defaultTimeout = 30 * time.Second

// timeout is c.Timeout or its default.
func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return defaultTimeout
}

// session is a client's conversation with one repository.
type session struct {
	c       *Client
	ref     Reference
	base    string // "https://host:port"
	http    *http.Client
	auth    string   // the Authorization header to send, once known
	actions string   // "pull" or "pull,push"
	from    []string // other repositories of the registry to read (mount) from
}

// open starts a session: it asks GET /v2/ how to authenticate and does
// so. A registry is spoken to in TLS, verified against the system's CAs
// and the user's certs.d. An insecure one (loopback, or listed) is tried
// as Docker does: TLS without verification first, then plain HTTP.
// from names other repositories of the same registry that a push will
// mount blobs from: the token must allow pulling them too.
func (c *Client) open(ref Reference, actions string, from ...string) (*session, error) {
	host := ref.endpoint()
	tlsConfig, err := c.tlsConfig(host)
	if err != nil {
		return nil, err
	}
	if !c.insecure(host) {
		s := c.newSession(ref, actions, "https", tlsConfig)
		s.from = from
		resp, err := s.ping()
		if err != nil {
			return nil, c.tlsHint(err, host)
		}
		return s, s.login(resp)
	}
	tlsConfig.InsecureSkipVerify = true
	s := c.newSession(ref, actions, "https", tlsConfig)
	resp, err := s.ping()
	if err != nil {
		s = c.newSession(ref, actions, "http", nil)
		if resp, err = s.ping(); err != nil {
			return nil, err
		}
	}
	s.from = from
	return s, s.login(resp)
}

// newSession makes a session speaking scheme to the reference's registry.
func (c *Client) newSession(ref Reference, actions, scheme string, tlsConfig *tls.Config) *session {
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   c.timeout(),
		ResponseHeaderTimeout: c.timeout(),
		MaxIdleConnsPerHost:   8,
	}
	return &session{c: c, ref: ref, base: scheme + "://" + ref.endpoint(), actions: actions,
		http: &http.Client{Transport: transport}}
}

// tlsHint adds to a certificate error how to make the registry trusted.
func (c *Client) tlsHint(err error, host string) error {
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		return err
	}
	var paths []string
	for _, dir := range c.CertDirs {
		paths = append(paths, filepath.Join(dir, host, "ca.crt"))
	}
	return fmt.Errorf("%w: put the CA that signed %s's certificate in %s, or give --insecure-registry %s", err, host, strings.Join(paths, " or "), host)
}

// ping is GET /v2/, which says whether and how to authenticate.
func (s *session) ping() (*http.Response, error) {
	resp, err := s.send(http.MethodGet, s.base+"/v2/", nil, nil)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, nil
}

// insecure reports whether host is spoken to in plain HTTP: loopback
// names and addresses, and those the user listed.
func (c *Client) insecure(host string) bool {
	for _, h := range c.Insecure {
		if h == host {
			return true
		}
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	for _, h := range c.Insecure {
		if h == name {
			return true
		}
	}
	if name == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(name, "[]"))
	return ip != nil && ip.IsLoopback()
}

// tlsConfig trusts the system's CAs and any certs.d/<host>/ca.crt.
func (c *Client) tlsConfig(host string) (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, dir := range c.CertDirs {
		path := filepath.Join(dir, host, "ca.crt")
		pem, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate in it", path)
		}
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// login answers GET /v2/'s challenge: nothing to do on 200, HTTP basic
// auth, or a bearer token from the realm it names.
func (s *session) login(resp *http.Response) error {
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized:
	default:
		return fmt.Errorf("%s does not answer as a registry (GET /v2/: %s)", s.ref.Host, resp.Status)
	}
	scheme, params := parseChallenge(resp.Header.Get("WWW-Authenticate"))
	creds, haveCreds := s.credentials()
	switch strings.ToLower(scheme) {
	case "basic":
		if !haveCreds {
			return fmt.Errorf("%s wants a user name and password: minidocker login %s", s.ref.Host, s.ref.Host)
		}
		s.auth = "Basic " + basicAuth(creds)
		return s.checkLogin()
	case "bearer":
		return s.fetchToken(params, creds, haveCreds)
	}
	return fmt.Errorf("%s: unsupported authentication scheme %q", s.ref.Host, scheme)
}

// credentials are the user's for this registry, if any were kept.
func (s *session) credentials() (Credentials, bool) {
	if s.c.Auth == nil {
		return Credentials{}, false
	}
	return s.c.Auth(s.ref.Host)
}

// checkLogin repeats GET /v2/ with the credentials, so that a wrong
// password is reported as such.
func (s *session) checkLogin() error {
	resp, err := s.send(http.MethodGet, s.base+"/v2/", nil, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("%s refused the user name and password: check them (minidocker login %s)", s.ref.Host, s.ref.Host)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s/v2/: %s", s.ref.Host, resp.Status)
	}
	return nil
}

// fetchToken gets a bearer token for this repository from the realm.
func (s *session) fetchToken(params map[string]string, creds Credentials, haveCreds bool) error {
	realm, err := url.Parse(params["realm"])
	if err != nil || (realm.Scheme != "https" && realm.Scheme != "http") {
		return fmt.Errorf("%s: bad token realm %q in its WWW-Authenticate header", s.ref.Host, params["realm"])
	}
	q := realm.Query()
	if params["service"] != "" {
		q.Set("service", params["service"])
	}
	if s.ref.Path != "" { // login asks for no scope, only whether the credentials are good
		q.Set("scope", "repository:"+s.ref.Path+":"+s.actions)
	}
	for _, path := range s.from {
		q.Add("scope", "repository:"+path+":pull")
	}
	realm.RawQuery = q.Encode()
	header := http.Header{}
	withheld := haveCreds && !s.trustedRealm(realm)
	if withheld && s.ref.Path == "" {
		return fmt.Errorf("%s names the token server %s, which is not on its domain: minidocker does not send your password there (log in to the token server's host instead if you trust it)", s.ref.Host, realm.Host)
	}
	if haveCreds && !withheld {
		header.Set("Authorization", "Basic "+basicAuth(creds))
	}
	if withheld && s.c.Debug != nil {
		fmt.Fprintf(s.c.Debug, "    (credentials for %s not sent to %s: not on its domain, or not https)\n", s.ref.Host, realm.Host)
	}
	token, err := s.askToken(realm, header)
	if err != nil && withheld {
		err = fmt.Errorf("%w (your credentials for %s were not sent to it: it is not on %s's domain)", err, s.ref.Host, s.ref.Host)
	}
	if err != nil {
		return err
	}
	s.auth = "Bearer " + token
	return nil
}

// askToken sends the token request and reads the token from the answer.
func (s *session) askToken(realm *url.URL, header http.Header) (string, error) {
	resp, err := s.send(http.MethodGet, realm.String(), header, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token server %s refused a token for %s: %s", realm.Host, s.ref.Repository(), resp.Status)
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tok); err != nil {
		return "", fmt.Errorf("token server %s: parse its answer: %w", realm.Host, err)
	}
	if tok.Token == "" {
		tok.Token = tok.AccessToken
	}
	if tok.Token == "" {
		return "", fmt.Errorf("token server %s gave no token", realm.Host)
	}
	return tok.Token, nil
}

// trustedRealm decides whether the credentials kept for this registry go
// to the token server it names. A registry chooses its realm freely, so a
// hostile one could name a server of its own on another host and collect
// the password. Docker sends them to any realm; minidocker sends them only
// where the registry's own operator must be: to the registry's host
// itself, or to a host of the same parent domain (registry-1.docker.io ->
// auth.docker.io, registry.gitlab.com -> gitlab.com), where the parent
// has a dot of its own, so that "example.com" never trusts all of "com".
// And only over https, except to the very host of a registry that is
// itself spoken to in plain HTTP (loopback, or --insecure-registry).
func (s *session) trustedRealm(realm *url.URL) bool {
	registryHost := s.ref.endpoint()
	name := registryHost
	if h, _, err := net.SplitHostPort(registryHost); err == nil {
		name = h
	}
	name = strings.ToLower(strings.Trim(name, "[]"))
	realmName := strings.ToLower(realm.Hostname())
	if realm.Scheme != "https" {
		return realmName == name && s.c.insecure(registryHost)
	}
	if realmName == name {
		return true
	}
	if net.ParseIP(name) != nil {
		return false
	}
	_, parent, ok := strings.Cut(name, ".")
	if !ok || !strings.Contains(parent, ".") {
		return false
	}
	return realmName == parent || strings.HasSuffix(realmName, "."+parent)
}

// basicAuth is the base64 of user:password.
func basicAuth(c Credentials) string {
	return base64.StdEncoding.EncodeToString([]byte(c.User + ":" + c.Password))
}

// parseChallenge splits `Bearer realm="...",service="...",scope="..."`.
func parseChallenge(h string) (string, map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params := map[string]string{}
	for rest != "" {
		var key, value string
		key, rest, _ = strings.Cut(strings.TrimLeft(rest, " ,"), "=")
		if strings.HasPrefix(rest, `"`) {
			end := strings.Index(rest[1:], `"`)
			if end < 0 {
				value, rest = rest[1:], ""
			} else {
				value, rest = rest[1:1+end], rest[2+end:]
			}
		} else {
			value, rest, _ = strings.Cut(rest, ",")
		}
		params[strings.ToLower(strings.TrimSpace(key))] = value
	}
	return scheme, params
}

// do sends a request to the registry with the session's authorization.
func (s *session) do(ctx context.Context, method, path string, header http.Header, body io.Reader, size int64) (*http.Response, error) {
	if header == nil {
		header = http.Header{}
	}
	if s.auth != "" {
		header.Set("Authorization", s.auth)
	}
	target := path
	if strings.HasPrefix(path, "/") {
		target = s.base + path
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, target, err)
	}
	req.Header = header
	if body != nil {
		req.ContentLength = size
	}
	return s.roundTrip(req)
}

// send is do for a full URL, without the session's authorization.
func (s *session) send(method, target string, header http.Header, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, target, err)
	}
	if header != nil {
		req.Header = header
	}
	if s.auth != "" && req.Header.Get("Authorization") == "" && strings.HasPrefix(target, s.base+"/") {
		req.Header.Set("Authorization", s.auth)
	}
	return s.roundTrip(req)
}

// roundTrip sends req, printing it and its status when debugging. The
// answer's headers must come within the client's timeout (the transport's
// ResponseHeaderTimeout), and its body may not pause longer (idleBody).
func (s *session) roundTrip(req *http.Request) (*http.Response, error) {
	req.Header.Set("User-Agent", "minidocker")
	ctx, cancel := context.WithCancel(req.Context())
	req = req.WithContext(ctx)
	resp, err := s.http.Do(req)
	s.narrate(req, resp, err)
	if err != nil {
		cancel()
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			err = fmt.Errorf("%w: the registry did not answer within %s", err, s.c.timeout())
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, maskURL(req.URL), err)
	}
	resp.Body = newIdleBody(resp.Body, s.c.timeout(), cancel)
	return resp, nil
}

// narrate prints a request and its status (or error) when debugging,
// with the authorization masked.
func (s *session) narrate(req *http.Request, resp *http.Response, err error) {
	if s.c.Debug == nil {
		return
	}
	line := req.Method + " " + maskURL(req.URL)
	if a := req.Header.Get("Authorization"); a != "" {
		scheme, _, _ := strings.Cut(a, " ")
		line += " (Authorization: " + scheme + " ***)"
	}
	if err != nil {
		fmt.Fprintf(s.c.Debug, "%s -> %v\n", line, err)
		return
	}
	fmt.Fprintf(s.c.Debug, "%s -> %s\n", line, resp.Status)
	if v := resp.Header.Get("WWW-Authenticate"); v != "" {
		fmt.Fprintf(s.c.Debug, "    WWW-Authenticate: %s\n", v)
	}
}

// idleBody is a response body that fails when the registry sends
// nothing for a while: its watchdog cancels the request, which makes the
// blocked Read return.
type idleBody struct {
	body    io.ReadCloser
	timeout time.Duration
	timer   *time.Timer
	cancel  context.CancelFunc
	fired   chan struct{} // closed when the watchdog cancelled the request
}

// newIdleBody watches body, cancelling the request after timeout without data.
func newIdleBody(body io.ReadCloser, timeout time.Duration, cancel context.CancelFunc) *idleBody {
	b := &idleBody{body: body, timeout: timeout, cancel: cancel, fired: make(chan struct{})}
	b.timer = time.AfterFunc(timeout, func() { close(b.fired); cancel() })
	return b
}

// Read reads, restarting the watchdog after each read that brought data.
func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err != nil {
		select {
		case <-b.fired:
			return n, fmt.Errorf("the registry sent nothing for %s: timed out", b.timeout)
		default:
		}
	}
	if n > 0 {
		b.timer.Reset(b.timeout)
	}
	return n, err
}

// Close stops the watchdog and closes the body.
func (b *idleBody) Close() error {
	b.timer.Stop()
	err := b.body.Close()
	b.cancel()
	return err
}

// maskURL prints a URL without user info and with query values that may
// be secrets (upload state, signatures) shortened.
func maskURL(u *url.URL) string {
	c := *u
	c.User = nil
	q := c.Query()
	for k, vs := range q {
		for i, v := range vs {
			if len(v) > 24 && k != "scope" && k != "digest" && k != "mount" && k != "from" {
				vs[i] = v[:8] + "..."
			}
		}
	}
	c.RawQuery = q.Encode()
	s, _ := url.PathUnescape(c.String())
	return s
}

// apiError reads a registry's error answer into one line: the status and
// the first error of its {"errors":[{"code","message"}]} body.
func apiError(what string, resp *http.Response) error {
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := resp.Status
	if json.Unmarshal(data, &body) == nil && len(body.Errors) > 0 {
		msg = fmt.Sprintf("%s (%s: %s)", resp.Status, clip(body.Errors[0].Code), clip(body.Errors[0].Message))
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		msg += ": the registry does not allow this without other credentials (minidocker login HOST)"
	}
	return fmt.Errorf("%s: %s", what, msg)
}

// clip makes text a registry sent fit in a one-line error: control
// characters (newlines, terminal escapes) become spaces, and it is cut
// at 200 bytes.
func clip(text string) string {
	text = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, text)
	if len(text) > 200 {
		text = strings.ToValidUTF8(text[:200], "") + "..."
	}
	return text
}
