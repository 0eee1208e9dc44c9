package web_test

import (
	"os"
	"testing"

	"github.com/hearth-community/hearth/internal/identity/identitytest"
)

// TestMain stops the tests' shared chromium (newBrowser) at the end.
func TestMain(m *testing.M) {
	identitytest.UseCheapHashing()
	code := m.Run()
	stopBrowser()
	os.Exit(code)
}
