package capturetest

import (
	"encoding/binary"
)

// tlsRecord returns the payload for tls=KIND: a TLS 1.3 ClientHello (with SNI
// sni), a ServerHello flight (ServerHello, ChangeCipherSpec and one encrypted
// record), or one application-data record of n bytes in all (n < 6: 100).
// Random fields come from seed, so the bytes are deterministic.
func tlsRecord(kind, sni string, n int, seed uint32) []byte {
	switch kind {
	case "clienthello":
		if sni == "" {
			sni = "example.com"
		}
		return ClientHello(sni, seed)
	case "serverhello":
		return serverHello(seed)
	default:
		if n < 6 {
			n = 100
		}
		return record(23, pseudo(seed, n-5))
	}
}

// pseudo returns n deterministic pseudo-random bytes (xorshift32).
func pseudo(seed uint32, n int) []byte {
	x := seed | 1
	b := make([]byte, n)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func record(typ byte, body []byte) []byte {
	b := []byte{typ, 0x03, 0x03, 0, 0}
	if typ == 22 && len(body) > 0 && body[0] == 1 {
		b[2] = 0x01 // ClientHello records say TLS 1.0, as browsers do
	}
	binary.BigEndian.PutUint16(b[3:], uint16(len(body)))
	return append(b, body...)
}

func handshake(typ byte, body []byte) []byte {
	b := []byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	return append(b, body...)
}

func u16(v int) []byte { return []byte{byte(v >> 8), byte(v)} }

func ext(typ int, data []byte) []byte {
	b := append(u16(typ), u16(len(data))...)
	return append(b, data...)
}

func vec16(data []byte) []byte { return append(u16(len(data)), data...) }

// ClientHello returns a TLS record holding a ClientHello like a current
// browser or OpenSSL 3 client sends: TLS 1.2 legacy version, TLS 1.3 in
// supported_versions, an x25519 key share, ALPN h2 and http/1.1, and the
// server name sni.
func ClientHello(sni string, seed uint32) []byte {
	r := pseudo(seed, 32+32+32)
	var body []byte
	body = append(body, 0x03, 0x03)
	body = append(body, r[:32]...)   // random
	body = append(body, 32)          // session id length
	body = append(body, r[32:64]...) // session id
	suites := []int{0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0x00ff}
	var cs []byte
	for _, s := range suites {
		cs = append(cs, u16(s)...)
	}
	body = append(body, vec16(cs)...)
	body = append(body, 1, 0) // compression: null
	var exts []byte
	name := append([]byte{0}, vec16([]byte(sni))...)
	exts = append(exts, ext(0, vec16(name))...)                                                 // server_name
	exts = append(exts, ext(11, []byte{3, 0, 1, 2})...)                                         // ec_point_formats
	exts = append(exts, ext(10, vec16([]byte{0, 0x1d, 0, 0x17, 0, 0x1e, 0, 0x19, 0, 0x18}))...) // supported_groups
	exts = append(exts, ext(35, nil)...)                                                        // session_ticket
	alpn := []byte{2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'}
	exts = append(exts, ext(16, vec16(alpn))...) // ALPN
	exts = append(exts, ext(22, nil)...)         // encrypt_then_mac
	exts = append(exts, ext(23, nil)...)         // extended_master_secret
	sigs := []int{0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601}
	var sb []byte
	for _, s := range sigs {
		sb = append(sb, u16(s)...)
	}
	exts = append(exts, ext(13, vec16(sb))...)                         // signature_algorithms
	exts = append(exts, ext(43, []byte{4, 0x03, 0x04, 0x03, 0x03})...) // supported_versions
	exts = append(exts, ext(45, []byte{1, 1})...)                      // psk_key_exchange_modes
	ks := append(u16(0x1d), vec16(r[64:96])...)
	exts = append(exts, ext(51, vec16(ks))...) // key_share
	body = append(body, vec16(exts)...)
	return record(22, handshake(1, body))
}

func serverHello(seed uint32) []byte {
	r := pseudo(seed, 32+32+32)
	var body []byte
	body = append(body, 0x03, 0x03)
	body = append(body, r[:32]...)
	body = append(body, 32)
	body = append(body, r[32:64]...)
	body = append(body, u16(0x1302)...)
	body = append(body, 0)
	var exts []byte
	exts = append(exts, ext(43, u16(0x0304))...)
	exts = append(exts, ext(51, append(u16(0x1d), vec16(r[64:96])...))...)
	body = append(body, vec16(exts)...)
	out := record(22, handshake(2, body))
	out = append(out, 20, 3, 3, 0, 1, 1) // ChangeCipherSpec
	return append(out, record(23, pseudo(seed^0x5bd1e995, 1200))...)
}
