package backup_test

import (
	"os"
	"testing"

	"github.com/hearth-community/hearth/internal/identity/identitytest"
)

func TestMain(m *testing.M) {
	identitytest.UseCheapHashing()
	os.Exit(m.Run())
}
