package objstore

import "context"

// DeletePrefixInPages is DeletePrefix with pages of batch keys, so a test can walk many
// pages with few objects.
func (s *Store) DeletePrefixInPages(ctx context.Context, prefix string, batch int32) (int, error) {
	return s.deletePrefix(ctx, prefix, batch)
}
