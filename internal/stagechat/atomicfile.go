package stagechat

import (
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// tempPrefix starts the name of a file WriteFileAtomic has not finished.
// No served name starts with a dot (cleanName refuses them), so such a
// file is never listed or served.
const tempPrefix = ".tmp-"

// WriteFileAtomic writes data to name in root so that name is either its
// old content or the whole new one, never a part: the bytes go to a
// temporary file beside it, synced, then renamed over name. A process
// killed mid-write leaves only the temporary file (RemoveTemps), and a
// reader that opened name before the replace keeps reading the old file.
func WriteFileAtomic(root *os.Root, name string, data []byte) error {
	tmp := tempPrefix + rand.Text()
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		_ = root.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// RemoveTemps removes the temporary files of WriteFileAtomic in root's top
// directory last written before the given time: writes cut off by a crash.
// At startup, before anything writes there, that is all of them.
func RemoveTemps(root *os.Root, before time.Time) int {
	ents, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), tempPrefix) || !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().Before(before) && root.Remove(e.Name()) == nil {
			n++
		}
	}
	return n
}
