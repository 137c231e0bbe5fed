package purge

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmojo/diary/shared/testenv"
)

// fkey is one foreign key of the schema, as information_schema describes it.
type fkey struct {
	table, refTable string
	columns         []string
	deleteRule      string
	nullable        bool // some column of the key may be NULL
}

// TestEveryUserTableCascades holds every table of the schema, today's and every future
// one, to what the purge relies on: deleting a users row removes every row of that user.
// A table with a user_id column must reach users through foreign keys that all cascade on
// delete: its own user_id REFERENCES users ON DELETE CASCADE, or a NOT NULL key that
// cascades from a table that itself reaches users so. And no foreign key to users may do
// anything but cascade (SET NULL would keep a row of the user, NO ACTION would stop the
// purge).
func TestEveryUserTableCascades(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	rows, err := svc.DB.Query(ctx, `
		SELECT kcu.table_name, ccu.table_name, array_agg(kcu.column_name::text ORDER BY kcu.ordinal_position),
		       rc.delete_rule, bool_or(c.is_nullable = 'YES')
		FROM information_schema.referential_constraints rc
		JOIN information_schema.key_column_usage kcu
		  ON kcu.constraint_schema = rc.constraint_schema AND kcu.constraint_name = rc.constraint_name
		JOIN information_schema.columns c
		  ON c.table_schema = kcu.table_schema AND c.table_name = kcu.table_name AND c.column_name = kcu.column_name
		JOIN (SELECT DISTINCT constraint_schema, constraint_name, table_name FROM information_schema.constraint_column_usage) ccu
		  ON ccu.constraint_schema = rc.unique_constraint_schema AND ccu.constraint_name = rc.unique_constraint_name
		WHERE rc.constraint_schema = 'public'
		GROUP BY rc.constraint_schema, rc.constraint_name, kcu.table_name, ccu.table_name, rc.delete_rule`)
	if err != nil {
		t.Fatal(err)
	}
	var keys []fkey
	for rows.Next() {
		var k fkey
		if err := rows.Scan(&k.table, &k.refTable, &k.columns, &k.deleteRule, &k.nullable); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	userTables := tablesWithColumn(t, svc.DB, "user_id")
	if len(keys) < 5 || !slices.Contains(userTables, "entries") || !slices.Contains(userTables, "media") {
		t.Fatalf("foreign keys %d, user tables %v: the schema is not there", len(keys), userTables)
	}

	for _, k := range keys {
		if k.refTable == "users" && k.deleteRule != "CASCADE" {
			t.Errorf("%s%v REFERENCES users ON DELETE %s: it must be CASCADE, or deleting a user keeps or blocks its rows", k.table, k.columns, k.deleteRule)
		}
	}
	// The tables whose rows go with their user: users itself, then by fixed point.
	covered := map[string]bool{"users": true}
	for changed := true; changed; {
		changed = false
		for _, k := range keys {
			if covered[k.table] || !covered[k.refTable] || k.deleteRule != "CASCADE" {
				continue
			}
			// user_id itself may be nullable (jobs: a system job has no user); any other
			// key must be NOT NULL, or a row without it would escape the cascade.
			if k.nullable && !(k.refTable == "users" && slices.Equal(k.columns, []string{"user_id"})) {
				continue
			}
			covered[k.table], changed = true, true
		}
	}
	for _, table := range userTables {
		if !covered[table] {
			t.Errorf("table %s has a user_id column but no cascading path to users: add user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE", table)
		}
		// The user's own rows must be the ones that cascade: user_id itself references users.
		direct := slices.ContainsFunc(keys, func(k fkey) bool {
			return k.table == table && k.refTable == "users" && slices.Equal(k.columns, []string{"user_id"})
		})
		if !direct {
			t.Errorf("table %s: user_id does not reference users (id); a row could name a user it does not go with", table)
		}
	}
}

// tablesWithColumn lists the public base tables that have the column.
func tablesWithColumn(t *testing.T, db *pgxpool.Pool, column string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), `
		SELECT c.table_name::text FROM information_schema.columns c
		JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
		WHERE c.table_schema = 'public' AND tb.table_type = 'BASE TABLE' AND c.column_name = $1
		ORDER BY 1`, column)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return tables
}
