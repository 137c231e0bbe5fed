package importer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/entryref"
	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/store"
)

// batch creates the entries of items in one transaction, with their import_items and the
// import's counts and progress, then their media one by one. An item created or found
// before (by this import, on an earlier delivery, or another) is not created again; its
// media are still looked at, since a delivery may have stopped between an entry and its
// media.
func (r *run) batch(ctx context.Context, a *archive, src source, items []item) error {
	ids := make([]string, 0, len(items))
	for _, it := range items {
		if it.invalid == "" {
			ids = append(ids, it.sourceID)
		}
	}
	rec, err := recordedItems(ctx, r.f.db, r.imp.UserID, "entry", src.name(), ids)
	if err != nil {
		return err
	}
	targets := make([]string, len(items))
	var delivered []intake.Delivered
	err = store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
		var c counts
		var sources, made []string
		delivered = delivered[:0]
		for i, it := range items {
			targets[i] = ""
			if it.invalid != "" {
				r.itemError(it.label, it.invalid)
				continue
			}
			if prev, ok := rec[it.sourceID]; ok {
				targets[i] = prev.targetID
				if prev.importID != r.imp.ID {
					c.skipped++
				}
				continue
			}
			if src.name() == formatDiary {
				// The export of this very account: the entry is here already.
				live, err := entryref.Live(ctx, tx, r.imp.UserID, it.sourceID)
				if err != nil {
					return err
				}
				if live {
					if err := recordItem(ctx, tx, r.imp.UserID, "entry", src.name(), it.sourceID, r.imp.ID, it.sourceID); err != nil {
						return err
					}
					targets[i] = it.sourceID
					c.skipped++
					continue
				}
			}
			id := derivedID(r.imp.UserID, "entry", src.name(), it.sourceID)
			d, err := r.create(ctx, tx, id, it)
			if msg := itemMessage(err); msg != "" {
				r.itemError(it.label, msg)
				continue
			}
			if err != nil {
				return fmt.Errorf("entry %s: %w", it.label, err)
			}
			// The new entry's entry.changed, in the batch's transaction.
			if _, err := outbox.Add(ctx, tx, eventing.TypeEntryChanged, eventing.SourceEntries, d.EntryID, d.UserID,
				eventing.EntryChanged{UserID: d.UserID, EntryID: d.EntryID, Change: d.Change, Version: d.Version}); err != nil {
				return fmt.Errorf("entry %s: %w", it.label, err)
			}
			sources, made = append(sources, it.sourceID), append(made, id)
			targets[i] = id
			c.entries++
			delivered = append(delivered, d)
		}
		if err := recordItems(ctx, tx, r.imp.UserID, "entry", src.name(), r.imp.ID, sources, made); err != nil {
			return err
		}
		r.done += len(items)
		return r.recordIn(ctx, tx, c, r.progress())
	})
	if err != nil {
		return err
	}
	if len(delivered) > 0 {
		r.f.relay.Wake()
	}
	for i, it := range items {
		if targets[i] == "" {
			continue
		}
		for _, m := range it.media {
			if err := r.media(ctx, a, src.name(), m, &targets[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// create delivers the item as the entry id: a uce account's text sealed to its public key
// (pending until the user's next request), an e2e account's ciphertext restored as it was.
func (r *run) create(ctx context.Context, tx pgx.Tx, id string, it item) (intake.Delivered, error) {
	if r.tier == "e2e" {
		return intake.Restore(ctx, tx, intake.Restored{
			UserID: r.imp.UserID, EntryID: id, Ciphertext: it.ciphertext, CiphertextFormat: it.ciphertextFormat,
			Source: it.source, OccurredAt: it.occurredAt, Mood: it.mood, Tags: it.tags,
		})
	}
	return intake.Deliver(ctx, tx, r.f.pending, intake.Incoming{
		UserID: r.imp.UserID, EntryID: id, Body: intake.Body{Title: it.title, Content: it.content},
		Source: it.source, OccurredAt: it.occurredAt, Mood: it.mood, Tags: it.tags,
	})
}

// itemMessage is the errors-item message of an entry intake refused, or "" for any other
// error (which fails the delivery, to be retried).
func itemMessage(err error) string {
	var inv *intake.InvalidError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &inv):
		fields := make([]string, 0, len(inv.Fields))
		for f, msg := range inv.Fields {
			fields = append(fields, f+" "+msg)
		}
		sort.Strings(fields)
		return "not imported: " + strings.Join(fields, "; ")
	case errors.Is(err, intake.ErrTooLarge):
		return "not imported: the entry is larger than an entry may be"
	}
	return ""
}
