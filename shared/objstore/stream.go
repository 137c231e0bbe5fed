package objstore

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The calls below move object bytes through a function: the archive's export (the user
// asked for one file) and the importer (the bytes arrive in one zip). They are the one
// documented exception to "no media byte passes through a function" (docs/media.md).
// Their bodies stream: nothing here holds a whole object in memory.

// Get opens key for reading from its start. The caller closes the body. A missing object
// gives ok false; a missing bucket is an outage (ErrBucketMissing).
func (s *Store) Get(ctx context.Context, key string) (body io.ReadCloser, size int64, ok bool, err error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		gone, err := s.objectGone(ctx, "objstore: get object", err)
		if gone {
			return nil, 0, false, nil
		}
		return nil, 0, false, err
	}
	return out.Body, aws.ToInt64(out.ContentLength), true, nil
}

// ReadRange reads len(p) bytes of key from offset off (a ranged GET), for readers that
// need random access to a large object (a zip's central directory). It reads exactly
// len(p) bytes or fails; io.ErrUnexpectedEOF when the object is shorter.
func (s *Store) ReadRange(ctx context.Context, key string, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout*6)
	defer cancel()
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key),
		Range: aws.String("bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(off+int64(len(p))-1, 10)),
	})
	if err != nil {
		if _, err := s.objectGone(ctx, "objstore: read range", err); err != nil {
			return err
		}
		return fmt.Errorf("objstore: read range: %w", io.ErrUnexpectedEOF)
	}
	defer out.Body.Close()
	if _, err := io.ReadFull(out.Body, p); err != nil {
		return classify("objstore: read range", err)
	}
	return nil
}

// Put stores size bytes from body at key, with their SHA-256 (sum, 32 raw bytes) checked
// by the store, so a body that is not what the caller hashed is refused. body is read
// once, as it streams.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, size int64, sum []byte, contentType string) error {
	if len(sum) != 32 {
		return fmt.Errorf("objstore: put: sha256 is %d bytes, want 32", len(sum))
	}
	in := &s3.PutObjectInput{
		Bucket:         aws.String(s.bucket),
		Key:            aws.String(key),
		Body:           body,
		ContentLength:  aws.Int64(size),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum)),
	}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		return classify("objstore: put object", err)
	}
	return nil
}
