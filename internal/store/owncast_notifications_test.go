package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

func TestOwncastNotifications(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			st := eng.Open(t).StageChat()
			ctx := context.Background()
			now := time.Now()
			for i, d := range []string{`{"endpoint":"a"}`, `{"endpoint":"b'); DROP TABLE owncast_notifications;--"}`, `{"endpoint":"a"}`} {
				if err := st.AddNotification(ctx, "BROWSER_PUSH_NOTIFICATION", d, now.Add(time.Duration(i)*time.Second)); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.AddNotification(ctx, "OTHER", `{"endpoint":"a"}`, now); err != nil {
				t.Fatal(err)
			}
			got, err := st.NotificationDestinations(ctx, "BROWSER_PUSH_NOTIFICATION")
			want := []string{`{"endpoint":"a"}`, `{"endpoint":"b'); DROP TABLE owncast_notifications;--"}`}
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("destinations %v %v", got, err)
			}
			if err := st.RemoveNotification(ctx, "BROWSER_PUSH_NOTIFICATION", `{"endpoint":"a"}`); err != nil {
				t.Fatal(err)
			}
			if got, _ := st.NotificationDestinations(ctx, "BROWSER_PUSH_NOTIFICATION"); len(got) != 1 {
				t.Fatalf("after remove %v", got)
			}
			if got, _ := st.NotificationDestinations(ctx, "OTHER"); len(got) != 1 {
				t.Fatalf("other channel %v", got)
			}
		})
	}
}
