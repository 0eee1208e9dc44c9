package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestMigrationNetsIPBans: chat IP bans stored before a ban covered its
// network (no net) are given it, so an IPv6 address banned then covers its
// /64, and the ban is still listed as it was made.
func TestMigrationNetsIPBans(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			st := db.StageChat()
			for _, ip := range []string{"2001:db8:1:2::1", "192.0.2.1"} {
				if err := st.AddIPBan(ctx, stagechat.IPBan{IP: ip, CreatedAt: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			for _, q := range []string{`UPDATE owncast_ip_bans SET net=''`, `DELETE FROM goose_db_version WHERE version_id = 2801`} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			if ok, _ := st.IPBanned(ctx, "2001:db8:1:2:ffff::9"); ok {
				t.Fatal("before the migration, a ban with no net covered its /64")
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			for ip, want := range map[string]bool{"2001:db8:1:2::1": true, "2001:db8:1:2:ffff::9": true, "2001:db8:1:3::1": false,
				"192.0.2.1": true, "192.0.2.2": false} {
				if ok, err := st.IPBanned(ctx, ip); err != nil || ok != want {
					t.Errorf("IPBanned(%s) = %v, %v; want %v", ip, ok, err, want)
				}
			}
			if bans, _ := st.IPBans(ctx); len(bans) != 2 || bans[0].IP != "2001:db8:1:2::1" && bans[1].IP != "2001:db8:1:2::1" {
				t.Errorf("bans %+v, want the two as made", bans)
			}
		})
	}
}
