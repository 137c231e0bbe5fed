package intake

import (
	"context"
	"testing"

	"github.com/xmojo/diary/shared/testenv"
)

// BenchmarkPendingCheck compares what an entries request of a uce user with nothing
// pending pays to learn so: the Redis marker (Pending.Has, what entries asks) against
// the cheapest database question (one probe of the partial index, what Pending.Restore
// asks at login). docs/intake.md, "Knowing cheaply", cites the numbers.
//
//	go test -run '^$' -bench PendingCheck ./intake/
func BenchmarkPendingCheck(b *testing.B) {
	svc := testenv.Services(b)
	u := testenv.NewUser(b, svc, "uce")
	ctx := context.Background()
	p := NewPending(svc.Redis)
	b.Run("redis_exists", func(b *testing.B) {
		for b.Loop() {
			if has, err := p.Has(ctx, u.ID); err != nil || has {
				b.Fatalf("Has() = %v, %v", has, err)
			}
		}
	})
	b.Run("db_index_probe", func(b *testing.B) {
		for b.Loop() {
			var has bool
			err := svc.DB.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM entries WHERE user_id = $1 AND intake_box IS NOT NULL)`, u.ID).Scan(&has)
			if err != nil || has {
				b.Fatalf("probe = %v, %v", has, err)
			}
		}
	})
}
