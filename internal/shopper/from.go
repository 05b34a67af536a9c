package shopper

import (
	"math/rand/v2"
	"net/netip"
)

// The address a probe's runs come from. A customer's request reaches the
// gateway from the customer's address, which backends see (Caddy's client
// IP, X-Forwarded-For); the shopper's never crosses a network, and without
// a from of its own it would come from the loopback address, which no
// customer has: a vendor would know the shopper by it.

// loopbackClient is the address of a probe without from.
const loopbackClient = "127.0.0.1:1"

// clientAddr is the address one run of p comes from, as a server sees a
// connection's: an address in one of p's from ranges, at random, with an
// ephemeral port.
func (p *probe) clientAddr() string {
	if len(p.from) == 0 {
		return loopbackClient
	}
	addr := randomIn(p.from[rand.IntN(len(p.from))])
	port := 1024 + rand.IntN(1<<16-1024)
	return netip.AddrPortFrom(addr, uint16(port)).String()
}

// randomIn is an address of prefix at random: the first and last of a
// range of four or more (an IPv4 network's own address and its broadcast)
// are never taken.
func randomIn(prefix netip.Prefix) netip.Addr {
	first := prefix.Masked().Addr()
	bits, size := prefix.Bits(), first.BitLen()
	if size-bits < 2 {
		if size == bits || rand.IntN(2) == 0 {
			return first
		}
		return first.Next()
	}
	last := lastIn(prefix)
	for {
		b := first.AsSlice()
		for i := range b {
			keep := prefixMask(bits, i)
			b[i] = b[i]&keep | byte(rand.Uint32())&^keep
		}
		addr, _ := netip.AddrFromSlice(b)
		if addr != first && addr != last {
			return addr
		}
	}
}

// lastIn is the last address of prefix: every bit after it set.
func lastIn(prefix netip.Prefix) netip.Addr {
	b := prefix.Masked().Addr().AsSlice()
	bits := prefix.Bits()
	for i := range b {
		b[i] |= ^prefixMask(bits, i)
	}
	addr, _ := netip.AddrFromSlice(b)
	return addr
}

// prefixMask is the mask of byte i of an address that a prefix of bits
// fixes: its bits set where they are the prefix's.
func prefixMask(bits, i int) byte {
	fixed := max(0, min(8, bits-8*i)) // of this byte's bits, how many are the prefix's
	return byte(0xff << (8 - fixed))
}
