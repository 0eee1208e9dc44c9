package rtmp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
)

// AMF0 type markers (the ones a publisher sends, plus the ones we refuse
// by name so the error says what arrived).
const (
	amfNumber      = 0x00
	amfBoolean     = 0x01
	amfString      = 0x02
	amfObject      = 0x03
	amfMovieClip   = 0x04
	amfNull        = 0x05
	amfUndefined   = 0x06
	amfReference   = 0x07
	amfECMAArray   = 0x08
	amfObjectEnd   = 0x09
	amfStrictArray = 0x0a
	amfDate        = 0x0b
	amfLongString  = 0x0c
	amfXMLDoc      = 0x0f
	amfTypedObject = 0x10
	amfSwitchAMF3  = 0x11
)

// Limits on what a stranger's AMF0 may make us allocate.
const (
	maxAMFDepth    = 16
	maxAMFElements = 4096
)

// ErrAMF is wrapped by every AMF0 decoding error.
var ErrAMF = errors.New("rtmp: bad AMF0")

// Object is an AMF0 object or ECMA array: property name to value.
type Object map[string]any

// Undefined is the AMF0 undefined value (null decodes to nil).
type Undefined struct{}

// DecodeAMF0 decodes every value in b. Numbers become float64, booleans
// bool, strings string, objects and ECMA arrays Object, strict arrays []any,
// null nil, undefined Undefined{}, dates float64 (ms since the epoch).
func DecodeAMF0(b []byte) ([]any, error) {
	d := amfDecoder{b: b}
	var out []any
	for d.off < len(d.b) {
		v, err := d.value(0)
		if err != nil {
			return out, err
		}
		out = append(out, v)
		if len(out) > maxAMFElements {
			return out, fmt.Errorf("%w: too many values", ErrAMF)
		}
	}
	return out, nil
}

type amfDecoder struct {
	b     []byte
	off   int
	elems int
}

func (d *amfDecoder) need(n int) error {
	if n < 0 || len(d.b)-d.off < n {
		return fmt.Errorf("%w: truncated at byte %d", ErrAMF, d.off)
	}
	return nil
}

func (d *amfDecoder) u16() (int, error) {
	if err := d.need(2); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint16(d.b[d.off:])
	d.off += 2
	return int(v), nil
}

func (d *amfDecoder) u32() (uint32, error) {
	if err := d.need(4); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v, nil
}

func (d *amfDecoder) str(n int) (string, error) {
	if err := d.need(n); err != nil {
		return "", err
	}
	s := string(d.b[d.off : d.off+n])
	d.off += n
	return s, nil
}

func (d *amfDecoder) value(depth int) (any, error) {
	if depth > maxAMFDepth {
		return nil, fmt.Errorf("%w: nested too deeply", ErrAMF)
	}
	d.elems++
	if d.elems > maxAMFElements {
		return nil, fmt.Errorf("%w: too many elements", ErrAMF)
	}
	if err := d.need(1); err != nil {
		return nil, err
	}
	marker := d.b[d.off]
	d.off++
	switch marker {
	case amfNumber:
		if err := d.need(8); err != nil {
			return nil, err
		}
		v := math.Float64frombits(binary.BigEndian.Uint64(d.b[d.off:]))
		d.off += 8
		return v, nil
	case amfBoolean:
		if err := d.need(1); err != nil {
			return nil, err
		}
		v := d.b[d.off] != 0
		d.off++
		return v, nil
	case amfString:
		n, err := d.u16()
		if err != nil {
			return nil, err
		}
		return d.str(n)
	case amfLongString, amfXMLDoc:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		if int64(n) > int64(len(d.b)-d.off) {
			return nil, fmt.Errorf("%w: truncated long string", ErrAMF)
		}
		return d.str(int(n))
	case amfNull:
		return nil, nil
	case amfUndefined:
		return Undefined{}, nil
	case amfObject:
		return d.object(depth)
	case amfTypedObject:
		n, err := d.u16()
		if err != nil {
			return nil, err
		}
		if _, err := d.str(n); err != nil {
			return nil, err
		}
		return d.object(depth)
	case amfECMAArray:
		if _, err := d.u32(); err != nil { // the count is advisory; the end marker ends it
			return nil, err
		}
		return d.object(depth)
	case amfStrictArray:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		if n > maxAMFElements || int64(n) > int64(len(d.b)-d.off) {
			return nil, fmt.Errorf("%w: strict array of %d elements", ErrAMF, n)
		}
		arr := make([]any, 0, n)
		for i := uint32(0); i < n; i++ {
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		return arr, nil
	case amfDate:
		if err := d.need(10); err != nil {
			return nil, err
		}
		v := math.Float64frombits(binary.BigEndian.Uint64(d.b[d.off:]))
		d.off += 10 // 8 bytes of ms + 2 bytes of (unused) time zone
		return v, nil
	case amfSwitchAMF3:
		return nil, fmt.Errorf("%w: AMF3 values are not supported", ErrAMF)
	default:
		return nil, fmt.Errorf("%w: unsupported type marker 0x%02x", ErrAMF, marker)
	}
}

func (d *amfDecoder) object(depth int) (Object, error) {
	o := Object{}
	for {
		n, err := d.u16()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			if err := d.need(1); err != nil {
				return nil, err
			}
			if d.b[d.off] != amfObjectEnd {
				return nil, fmt.Errorf("%w: empty property name without object end", ErrAMF)
			}
			d.off++
			return o, nil
		}
		k, err := d.str(n)
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		o[k] = v
	}
}

// AppendAMF0 appends the AMF0 encoding of each value to b. It accepts the
// types DecodeAMF0 produces plus int, string maps and []any.
func AppendAMF0(b []byte, vals ...any) ([]byte, error) {
	for _, v := range vals {
		var err error
		if b, err = appendAMF0(b, v, 0); err != nil {
			return b, err
		}
	}
	return b, nil
}

func appendAMF0(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxAMFDepth {
		return b, fmt.Errorf("%w: nested too deeply", ErrAMF)
	}
	switch x := v.(type) {
	case nil:
		return append(b, amfNull), nil
	case Undefined:
		return append(b, amfUndefined), nil
	case float64:
		b = append(b, amfNumber)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(x)), nil
	case int:
		return appendAMF0(b, float64(x), depth)
	case uint32:
		return appendAMF0(b, float64(x), depth)
	case bool:
		if x {
			return append(b, amfBoolean, 1), nil
		}
		return append(b, amfBoolean, 0), nil
	case string:
		if len(x) > 0xffff {
			b = append(b, amfLongString)
			b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
			return append(b, x...), nil
		}
		b = append(b, amfString)
		b = binary.BigEndian.AppendUint16(b, uint16(len(x)))
		return append(b, x...), nil
	case Object:
		return appendObject(append(b, amfObject), x, depth)
	case map[string]any:
		return appendObject(append(b, amfObject), x, depth)
	case []any:
		b = append(b, amfStrictArray)
		b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
		for _, e := range x {
			var err error
			if b, err = appendAMF0(b, e, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	default:
		return b, fmt.Errorf("%w: cannot encode %T", ErrAMF, v)
	}
}

func appendObject(b []byte, o map[string]any, depth int) ([]byte, error) {
	keys := make([]string, 0, len(o))
	for k := range o {
		if len(k) == 0 || len(k) > 0xffff {
			return b, fmt.Errorf("%w: bad property name length %d", ErrAMF, len(k))
		}
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic output
	for _, k := range keys {
		b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
		var err error
		if b, err = appendAMF0(b, o[k], depth+1); err != nil {
			return b, err
		}
	}
	return append(b, 0, 0, amfObjectEnd), nil
}
