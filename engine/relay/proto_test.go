package relay

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestRequestRoundTrip(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, secretLen)
	for _, r := range []request{
		{op: opRegister, id: 1, name: "n3"},
		{op: opRegister, id: ^uint64(0), name: strings.Repeat("a-Z_9", 12) + "abcd", secret: secret},
		{op: opUnregister, id: 42, name: "x", secret: secret},
	} {
		b, err := r.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != r.Len() || len(b) > maxRequest {
			t.Fatalf("%+v: %d bytes, Len %d", r, len(b), r.Len())
		}
		got, err := parseRequest(b)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if got.op != r.op || got.id != r.id || got.name != r.name || !bytes.Equal(got.secret, r.secret) {
			t.Fatalf("round trip %+v -> %+v", r, got)
		}
	}
}

func TestRequestRefused(t *testing.T) {
	good, _ := (&request{op: opRegister, id: 9, name: "n3"}).Append(nil)
	for name, c := range map[string]struct {
		b    []byte
		want error
	}{
		"empty":        {nil, ErrBadRequest},
		"magic":        {append([]byte("xwrl"), good[4:]...), ErrBadRequest},
		"version":      {append(append([]byte("hwrl"), 2), good[5:]...), ErrBadRequest},
		"op":           {append(append([]byte("hwrl\x01"), 9), good[6:]...), ErrBadRequest},
		"short":        {good[:len(good)-1], ErrBadRequest},
		"trailing":     {append(append([]byte(nil), good...), 0), ErrBadRequest},
		"name":         {AppendRegisterRaw("a b", nil), ErrBadName},
		"long name":    {AppendRegisterRaw(strings.Repeat("a", 65), nil), ErrBadName},
		"empty name":   {AppendRegisterRaw("", nil), ErrBadName},
		"short secret": {AppendRegisterRaw("n3", []byte{1, 2, 3}), ErrBadRequest},
		"too long":     {make([]byte, maxRequest+1), ErrBadRequest},
	} {
		if _, err := parseRequest(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	var ve *VersionError
	if _, err := parseRequest(append(append([]byte("hwrl"), 2), good[5:]...)); !errors.As(err, &ve) || ve.Version != 2 {
		t.Errorf("version 2: %v", err)
	}
}

// AppendRegisterRaw encodes a register request without checking it.
func AppendRegisterRaw(name string, secret []byte) []byte {
	b := appendHeader(nil, opRegister)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 1, byte(len(name)))
	b = append(b, name...)
	b = append(b, byte(len(secret)))
	return append(b, secret...)
}

func TestAnswerRoundTrip(t *testing.T) {
	for _, a := range []answer{
		{op: opRegister, id: 5, status: statusOK, forward: "forward_to_n3", secret: bytes.Repeat([]byte{1}, secretLen)},
		{op: opRegister, id: 6, status: statusTaken, text: "relay name n3 is taken"},
		{op: opUnregister, id: 7, status: statusOK, forward: "forward_to_n3"},
	} {
		b, err := a.Append(nil)
		if err != nil || len(b) != a.Len() {
			t.Fatalf("%+v: %v, %d bytes, Len %d", a, err, len(b), a.Len())
		}
		got, err := parseAnswer(b)
		if err != nil || got.op != a.op || got.id != a.id || got.status != a.status || got.forward != a.forward || !bytes.Equal(got.secret, a.secret) || got.text != a.text {
			t.Fatalf("round trip %+v -> %+v, %v", a, got, err)
		}
	}
	long := answer{op: opRegister, status: statusFailed, text: strings.Repeat("x", 300)}
	b, _ := long.Append(nil)
	if got, err := parseAnswer(b); err != nil || len(got.text) != maxText || len(b) != long.Len() {
		t.Fatalf("long text: %v, %d", err, len(got.text))
	}
}

func TestPing(t *testing.T) {
	b := appendPing(nil, 77)
	if id, ok := parsePing(b); !ok || id != 77 || len(b) != pingLen {
		t.Fatalf("ping: %d %v", id, ok)
	}
	if _, ok := parsePing(b[:len(b)-1]); ok {
		t.Fatal("short ping parsed")
	}
	if a := testing.AllocsPerRun(100, func() { parsePing(b) }); a != 0 {
		t.Fatalf("parsePing allocates %v", a)
	}
}

// FuzzParseRequest checks that any input is either refused or parses to
// a request that encodes back to the same bytes.
func FuzzParseRequest(f *testing.F) {
	secret := bytes.Repeat([]byte{0xa5}, secretLen)
	for _, r := range []request{
		{op: opRegister, id: 1, name: "n3"},
		{op: opRegister, id: 2, name: "forward-me_64", secret: secret},
		{op: opUnregister, id: 3, name: "n3", secret: secret},
	} {
		b, _ := r.Append(nil)
		f.Add(b)
	}
	f.Add(appendPing(nil, 4))
	f.Add([]byte("hwrl\x02\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRequest(b)
		if err != nil {
			return
		}
		out, err := r.Append(nil)
		if err != nil {
			t.Fatalf("parsed %+v does not encode: %v", r, err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip %x -> %x", b, out)
		}
	})
}

// FuzzParseAnswer checks the same of answers, and that a ping never
// parses as one.
func FuzzParseAnswer(f *testing.F) {
	for _, a := range []answer{
		{op: opRegister, id: 5, status: statusOK, forward: "forward_to_n3", secret: bytes.Repeat([]byte{1}, secretLen)},
		{op: opRegister, id: 6, status: statusTaken, text: "relay name n3 is taken"},
	} {
		b, _ := a.Append(nil)
		f.Add(b)
	}
	f.Add(appendPing(nil, 4))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, isPing := parsePing(b)
		a, err := parseAnswer(b)
		if err != nil {
			return
		}
		if isPing {
			t.Fatal("a ping parsed as an answer")
		}
		out, err := a.Append(nil)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("round trip %x -> %x, %v", b, out, err)
		}
	})
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"n3", "A-z_0", strings.Repeat("x", 64)} {
		if err := checkName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a.b", "ä", "a/b", "a#b", strings.Repeat("x", 65)} {
		if err := checkName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
