package transcode

import (
	"encoding/binary"
	"io"
)

// flvHeader is an FLV file header declaring audio and video, followed by
// the first PreviousTagSize (0).
var flvHeader = [...]byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0}

// writeFLVTag writes one FLV tag and its trailing PreviousTagSize.
func writeFLVTag(w io.Writer, typ byte, ts uint32, data []byte) error {
	b := make([]byte, 11, 11+len(data)+4)
	b[0] = typ
	n := len(data)
	b[1], b[2], b[3] = byte(n>>16), byte(n>>8), byte(n)
	b[4], b[5], b[6], b[7] = byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24)
	b = append(b, data...)
	b = binary.BigEndian.AppendUint32(b, uint32(11+n))
	_, err := w.Write(b)
	return err
}
