//go:build !linux

package genl

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"time"
)

var errUnsupported = fmt.Errorf("genl: MPTCP path manager on %s/%s: %w", runtime.GOOS, runtime.GOARCH, os.ErrNotExist)

// Client is not available on this platform.
type Client struct{}

// New returns an error on this platform.
func New(*Config) (*Client, error) { return nil, errUnsupported }

// Close does nothing on this platform.
func (c *Client) Close() error { return errUnsupported }

// AddEndpoint returns an error on this platform.
func (c *Client) AddEndpoint(Endpoint) error { return errUnsupported }

// DeleteEndpoint returns an error on this platform.
func (c *Client) DeleteEndpoint(uint8, netip.Addr) error { return errUnsupported }

// Endpoint returns an error on this platform.
func (c *Client) Endpoint(uint8) (Endpoint, error) { return Endpoint{}, errUnsupported }

// Endpoints returns an error on this platform.
func (c *Client) Endpoints() ([]Endpoint, error) { return nil, errUnsupported }

// FlushEndpoints returns an error on this platform.
func (c *Client) FlushEndpoints() error { return errUnsupported }

// ChangeEndpoint returns an error on this platform.
func (c *Client) ChangeEndpoint(uint8, EndpointChange) error { return errUnsupported }

// ChangeEndpointAt returns an error on this platform.
func (c *Client) ChangeEndpointAt(netip.AddrPort, EndpointChange) error { return errUnsupported }

// Limits returns an error on this platform.
func (c *Client) Limits() (Limits, error) { return Limits{}, errUnsupported }

// SetLimits returns an error on this platform.
func (c *Client) SetLimits(LimitsUpdate) error { return errUnsupported }

// Announce returns an error on this platform.
func (c *Client) Announce(uint32, Endpoint) error { return errUnsupported }

// Remove returns an error on this platform.
func (c *Client) Remove(uint32, uint8) error { return errUnsupported }

// CreateSubflow returns an error on this platform.
func (c *Client) CreateSubflow(uint32, Endpoint, netip.AddrPort) error { return errUnsupported }

// DestroySubflow returns an error on this platform.
func (c *Client) DestroySubflow(uint32, netip.AddrPort, netip.AddrPort) error { return errUnsupported }

// SetFlags returns an error on this platform.
func (c *Client) SetFlags(uint32, netip.AddrPort, netip.AddrPort, bool) error { return errUnsupported }

// Addresses returns an error on this platform.
func (c *Client) Addresses(uint32) ([]Endpoint, error) { return nil, errUnsupported }

// Address returns an error on this platform.
func (c *Client) Address(uint32, uint8) (Endpoint, error) { return Endpoint{}, errUnsupported }

// Events is not available on this platform.
type Events struct{}

// NewEvents returns an error on this platform.
func NewEvents(*Config) (*Events, error) { return nil, errUnsupported }

// Receive returns an error on this platform.
func (e *Events) Receive() ([]Event, error) { return nil, errUnsupported }

// SetReadDeadline returns an error on this platform.
func (e *Events) SetReadDeadline(time.Time) error { return errUnsupported }

// SetReadBuffer returns an error on this platform.
func (e *Events) SetReadBuffer(int) error { return errUnsupported }

// ReadBuffer returns an error on this platform.
func (e *Events) ReadBuffer() (int, error) { return 0, errUnsupported }

// Close returns an error on this platform.
func (e *Events) Close() error { return errUnsupported }
