package live

import "testing"

func TestScaledSize(t *testing.T) {
	t.Parallel()
	cases := []struct{ w, h, sw, sh, ww, wh int }{
		{0, 360, 1280, 720, 640, 360},
		{0, 480, 1920, 1080, 854, 480},
		{640, 0, 1280, 720, 640, 360},
		{301, 201, 1280, 720, 300, 200},
		{0, 0, 1280, 720, 1280, 720},
		{0, 360, 0, 0, 0, 0},
	}
	for _, c := range cases {
		if w, h := scaledSize(c.w, c.h, c.sw, c.sh); w != c.ww || h != c.wh {
			t.Fatalf("scaledSize(%d,%d from %dx%d) = %dx%d, want %dx%d", c.w, c.h, c.sw, c.sh, w, h, c.ww, c.wh)
		}
	}
}
