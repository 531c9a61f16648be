package httpapi

import (
	"bytes"
	"io"
	"net/http"
)

// Transport returns an http.RoundTripper for a client library (a vendor
// SDK) that builds its own requests. It adds Header and Auth to each one
// (renewing an expired credential once), honours Limit, and turns every
// answer of 400 or more into the error Do would return, so that the
// library only sees successes; those errors reach the library's caller
// inside *url.Error, for errors.As. Network failures come back as they
// are. The requests go through the Transport of Client.HTTP.
func (c *Client) Transport() http.RoundTripper { return transport{c} }

type transport struct{ c *Client }

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	next := c.client().Transport
	if next == nil {
		next = http.DefaultTransport
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		r := req.Clone(ctx)
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		for k, vs := range c.Header {
			if _, ok := r.Header[k]; !ok {
				r.Header[k] = vs
			}
		}
		cred, err := c.authorize(ctx, r, false)
		if err != nil {
			return nil, err
		}
		if err := c.wait(ctx); err != nil {
			return nil, err
		}
		hr, err := next.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		resp := &Response{Status: hr.StatusCode, Header: hr.Header, Retried: attempt > 0,
			method: r.Method, path: r.URL.Path, where: r.Method + " " + r.URL.Path}
		why, expired := "", false
		if cred != nil {
			why, expired = c.expired(resp)
		}
		if expired && attempt == 0 {
			if c.Auth.Invalidate(*cred) {
				discard(hr)
				continue
			}
			expired = false // cannot be renewed: the answer is final
		}
		if !expired && hr.StatusCode < 400 {
			return hr, nil
		}
		resp.Body, _ = io.ReadAll(io.LimitReader(hr.Body, MaxErrorBody))
		hr.Body.Close()
		if expired {
			return nil, c.expiredError(resp, why)
		}
		return nil, c.Error(resp)
	}
}

// readBody buffers a request's body so that it can be sent twice.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	return io.ReadAll(req.Body)
}

func discard(hr *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(hr.Body, MaxErrorBody))
	hr.Body.Close()
}
