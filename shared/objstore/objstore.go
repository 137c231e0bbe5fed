// Package objstore owns the project's access to S3 (AWS S3 or an S3-compatible store such
// as versitygw): presigned uploads whose signature binds the exact length and SHA-256 of
// the bytes, presigned downloads, and the few server-side calls the functions make (HEAD,
// DELETE, bucket creation for local runs). No media byte passes through a function: the
// clients talk to the store with the URLs made here.
package objstore

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/xmojo/diary/shared/metrics"
	"github.com/xmojo/diary/shared/outage"
)

// MaxTTL is the longest a presigned URL made here stays valid.
const MaxTTL = 15 * time.Minute

// callTimeout bounds each server-side call (HEAD, DELETE, bucket calls) so a hung store
// cannot hold a request open.
const callTimeout = 10 * time.Second

// Config is the object store's part of a function's settings.
type Config struct {
	// Endpoint is the store's base URL (http://127.0.0.1:7070 for versitygw); empty means
	// AWS S3, whose endpoint the SDK derives from the region.
	Endpoint        string `envconfig:"S3_ENDPOINT"`
	Region          string `envconfig:"S3_REGION" default:"us-east-1"`
	Bucket          string `envconfig:"S3_BUCKET" required:"true"`
	AccessKeyID     string `envconfig:"S3_ACCESS_KEY_ID" required:"true"`
	SecretAccessKey string `envconfig:"S3_SECRET_ACCESS_KEY" required:"true"`
	// PathStyle addresses the bucket in the path (http://host/bucket/key) rather than the
	// host name, as S3-compatible stores without wildcard DNS need.
	PathStyle bool `envconfig:"S3_PATH_STYLE" default:"false"`
	// CreateBucket creates the bucket at start when it is missing: for local runs only,
	// in the cloud the bucket and its policies are provisioned by the operator.
	CreateBucket bool `envconfig:"S3_CREATE_BUCKET" default:"false"`
}

// Store is a client bound to one bucket.
type Store struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
	region  string
}

// New returns a Store for cfg. It makes no network call.
func New(cfg Config) (*Store, error) {
	switch {
	case cfg.Bucket == "":
		return nil, errors.New("objstore: S3_BUCKET is empty")
	case cfg.Region == "":
		return nil, errors.New("objstore: S3_REGION is empty")
	case cfg.AccessKeyID == "" || cfg.SecretAccessKey == "":
		return nil, errors.New("objstore: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are required")
	}
	opts := s3.Options{
		Region:       cfg.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		UsePathStyle: cfg.PathStyle,
		// The store computes nothing for us: checksums are declared by the client and
		// bound into presigned URLs explicitly.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           2,
	}
	if cfg.Endpoint != "" {
		if !strings.HasPrefix(cfg.Endpoint, "http://") && !strings.HasPrefix(cfg.Endpoint, "https://") {
			return nil, errors.New("objstore: S3_ENDPOINT must be an http:// or https:// URL")
		}
		opts.BaseEndpoint = aws.String(strings.TrimRight(cfg.Endpoint, "/"))
	}
	client := s3.New(opts)
	return &Store{client: client, presign: s3.NewPresignClient(client), bucket: cfg.Bucket, region: cfg.Region}, nil
}

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// EnsureBucket creates the bucket when it does not exist. A new bucket is private: it has
// no policy and no ACL grant beyond its owner.
func (s *Store) EnsureBucket(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	if err == nil {
		return nil
	}
	if !isNotFound(err) {
		return classify("objstore: head bucket", err)
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(s.bucket)}
	if s.region != "us-east-1" {
		// us-east-1 is the one region that refuses an explicit location constraint.
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(s.region)}
	}
	_, err = s.client.CreateBucket(ctx, in)
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return classify("objstore: create bucket", err)
	}
	return nil
}

// Presigned is a request the client sends to the store itself.
type Presigned struct {
	URL    string
	Method string
	// Header holds the headers the client must send exactly as given: they are part of
	// the signature. Host is left out (every HTTP client sets it from the URL);
	// Content-Length is listed although most clients set it themselves from the body.
	Header    map[string]string
	ExpiresAt time.Time
}

// PresignPut returns a PUT of key valid for ttl (at most MaxTTL) whose signature binds the
// body's length (Content-Length), its SHA-256 (x-amz-checksum-sha256, which the store
// checks against the bytes it receives) and the content type. The store refuses a body of
// another length or other bytes, an expired URL and any change to the signed parts.
// sum is the raw 32-byte SHA-256 digest of the body.
func (s *Store) PresignPut(ctx context.Context, key string, size int64, sum []byte, contentType string, ttl time.Duration) (Presigned, error) {
	if err := checkTTL(ttl); err != nil {
		return Presigned{}, err
	}
	if size <= 0 {
		return Presigned{}, fmt.Errorf("objstore: presign put: size %d is not positive", size)
	}
	if len(sum) != 32 {
		return Presigned{}, fmt.Errorf("objstore: presign put: sha256 is %d bytes, want 32", len(sum))
	}
	in := &s3.PutObjectInput{
		Bucket:         aws.String(s.bucket),
		Key:            aws.String(key),
		ContentLength:  aws.Int64(size),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum)),
	}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	req, err := s.presign.PresignPutObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return Presigned{}, fmt.Errorf("objstore: presign put: %w", err)
	}
	return presigned(req.URL, req.Method, req.SignedHeader, ttl), nil
}

// PresignGet returns a GET of key valid for ttl (at most MaxTTL).
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (Presigned, error) {
	if err := checkTTL(ttl); err != nil {
		return Presigned{}, err
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}, s3.WithPresignExpires(ttl))
	if err != nil {
		return Presigned{}, fmt.Errorf("objstore: presign get: %w", err)
	}
	return presigned(req.URL, req.Method, req.SignedHeader, ttl), nil
}

func checkTTL(ttl time.Duration) error {
	if ttl <= 0 || ttl > MaxTTL {
		return fmt.Errorf("objstore: presign: ttl %s is outside (0, %s]", ttl, MaxTTL)
	}
	return nil
}

func presigned(rawURL, method string, signed http.Header, ttl time.Duration) Presigned {
	h := make(map[string]string, len(signed))
	for name, values := range signed {
		if strings.EqualFold(name, "Host") || len(values) == 0 {
			continue
		}
		h[http.CanonicalHeaderKey(name)] = strings.Join(values, ",")
	}
	return Presigned{URL: rawURL, Method: method, Header: h, ExpiresAt: expiry(rawURL, ttl)}
}

// expiry is when the store starts refusing a presigned URL: its signing time
// (X-Amz-Date, whole seconds) plus X-Amz-Expires. Should the URL not say, the time is
// estimated from now, a second early, so a client never trusts a URL the store refuses.
func expiry(rawURL string, ttl time.Duration) time.Time {
	if u, err := url.Parse(rawURL); err == nil {
		q := u.Query()
		signed, errDate := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
		secs, errExp := strconv.Atoi(q.Get("X-Amz-Expires"))
		if errDate == nil && errExp == nil {
			return signed.Add(time.Duration(secs) * time.Second).UTC()
		}
	}
	return time.Now().Add(ttl - time.Second).UTC().Truncate(time.Second)
}

// Object describes a stored object.
type Object struct {
	Size int64
	// SHA256 is the hex SHA-256 the store recorded for the object, or "" when it kept none.
	SHA256 string
}

// Head reports whether key exists and, if so, its size and recorded SHA-256. A missing
// bucket is not a missing object: it is an outage (ErrBucketMissing, with
// outage.ErrUnavailable).
func (s *Store) Head(ctx context.Context, key string) (Object, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket:       aws.String(s.bucket),
		Key:          aws.String(key),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		gone, err := s.objectGone(ctx, "objstore: head object", err)
		if gone {
			return Object{}, false, nil
		}
		return Object{}, false, err
	}
	obj := Object{Size: aws.ToInt64(out.ContentLength)}
	if raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.ChecksumSHA256)); err == nil && len(raw) == 32 {
		obj.SHA256 = hex.EncodeToString(raw)
	}
	return obj, true, nil
}

// Delete removes key. Deleting a missing object is not an error, so a retried cleanup
// succeeds; deleting from a missing bucket is (ErrBucketMissing), so a wrong S3_BUCKET
// never passes for "already gone".
func (s *Store) Delete(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err == nil {
		return nil
	}
	if _, err := s.objectGone(ctx, "objstore: delete object", err); err != nil {
		return err
	}
	return nil
}

// ErrBucketMissing is the store saying the configured bucket does not exist: S3_BUCKET is
// wrong or the bucket was removed. It comes with outage.ErrUnavailable (503 in HTTP, a failed
// cleanup run that the Broker retries), never taken to mean that an object is gone.
var ErrBucketMissing = errors.New("objstore: the bucket does not exist")

// objectGone tells an object call's error apart: true for the object being missing from
// the bucket, else the error to return (ErrBucketMissing, an outage, for a missing bucket).
// S3 answers a HEAD with a bare 404 that does not say which of the two is missing, so such
// an answer is settled with a HEAD of the bucket.
func (s *Store) objectGone(ctx context.Context, op string, err error) (bool, error) {
	switch {
	case errorCode(err) == "NoSuchBucket":
		return false, s.bucketMissing(op, err)
	case errorCode(err) == "NoSuchKey":
		return true, nil
	case !isNotFound(err):
		return false, classify(op, err)
	}
	_, berr := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	switch {
	case berr == nil:
		return true, nil
	case isNotFound(berr):
		return false, s.bucketMissing(op, err)
	default:
		return false, classify(op+": head bucket", berr)
	}
}

// bucketMissing is ErrBucketMissing for op, an outage, with the store's answer.
func (s *Store) bucketMissing(op string, err error) error {
	metrics.S3Errors.WithLabelValues(operation(op)).Inc()
	return fmt.Errorf("%s: bucket %q: %w: %w: %w", op, s.bucket, ErrBucketMissing, outage.ErrUnavailable, err)
}

// errorCode is the S3 error code of err ("NoSuchKey", "NoSuchBucket", ...), or "".
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// isNotFound reports whether err is a 404 from the store. For an object call that alone
// does not say whether the object or the bucket is missing (see objectGone).
func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var (
		noKey    *types.NoSuchKey
		notFound *types.NotFound
		noBucket *types.NoSuchBucket
		resp     *awshttp.ResponseError
	)
	return errors.As(err, &noKey) || errors.As(err, &notFound) || errors.As(err, &noBucket) ||
		(errors.As(err, &resp) && resp.HTTPStatusCode() == http.StatusNotFound)
}

// operation is the metrics label of op ("objstore: head object: head bucket" is
// head_object): the call the caller made.
func operation(op string) string {
	op = strings.TrimPrefix(op, "objstore: ")
	op, _, _ = strings.Cut(op, ":")
	return strings.ReplaceAll(op, " ", "_")
}

// classify wraps err with op, and with outage.ErrUnavailable when the store could not be
// reached or is failing, so the call may succeed later (see failing). httpapi.Fail answers
// such an error with 503 and Retry-After.
func classify(op string, err error) error {
	if !errors.Is(err, context.Canceled) {
		metrics.S3Errors.WithLabelValues(operation(op)).Inc()
	}
	if failing(err) {
		return fmt.Errorf("%s: %w: %w", op, outage.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// failing reports whether err is the store being out of reach or failing: a transport
// failure (connection refused, reset, DNS, timeout) or a 5xx / throttling answer. A
// canceled request is not, since the caller went away.
func failing(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	// No answer from the store at all: the transport failed (connection refused or
	// reset, DNS), the deadline passed, or the SDK's retry budget ran out. The SDK wraps
	// such a failure in a ResponseError with status 0, so this comes first.
	var (
		sendErr  *smithyhttp.RequestSendError
		quotaErr *ratelimit.QuotaExceededError
	)
	if errors.As(err, &sendErr) || errors.As(err, &quotaErr) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var (
		resp   *awshttp.ResponseError
		apiErr smithy.APIError
	)
	if errors.As(err, &resp) && (resp.HTTPStatusCode() >= 500 || resp.HTTPStatusCode() == http.StatusTooManyRequests) {
		return true
	}
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "SlowDown"
}

// deleteBatch is how many keys one DeleteObjects call removes: S3's limit per call.
const deleteBatch = 1000

// DeletePrefix removes every object whose key starts with prefix, a page of
// ListObjectsV2 (up to 1000 keys) at a time, each page with one DeleteObjects call, and
// returns how many it removed. It is safe to run again after a failure or alongside
// itself: a key already gone counts as removed. An empty prefix, or one that does not end
// in "/", is refused, so a slip can never empty the bucket or catch "u/12" with "u/1".
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	return s.deletePrefix(ctx, prefix, deleteBatch)
}

func (s *Store) deletePrefix(ctx context.Context, prefix string, batch int32) (int, error) {
	if prefix == "" || !strings.HasSuffix(prefix, "/") {
		return 0, fmt.Errorf("objstore: delete prefix %q: the prefix must be non-empty and end in /", prefix)
	}
	removed, after := 0, ""
	for {
		// Page on from the last key seen (StartAfter), so the walk ends even should a
		// store list a deleted key again; a key written behind it meanwhile is found by
		// the next run.
		keys, err := s.listKeys(ctx, prefix, after, batch)
		if err != nil {
			return removed, err
		}
		if len(keys) == 0 {
			return removed, nil
		}
		if err := s.deleteKeys(ctx, keys); err != nil {
			return removed, err
		}
		removed += len(keys)
		after = keys[len(keys)-1]
	}
}

// listKeys returns up to limit keys under prefix after the key after ("" from the start),
// in key order.
func (s *Store) listKeys(ctx context.Context, prefix, after string, limit int32) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	in := &s3.ListObjectsV2Input{
		Bucket:  aws.String(s.bucket),
		Prefix:  aws.String(prefix),
		MaxKeys: aws.Int32(limit),
	}
	if after != "" {
		in.StartAfter = aws.String(after)
	}
	out, err := s.client.ListObjectsV2(ctx, in)
	if err != nil {
		if errorCode(err) == "NoSuchBucket" || isNotFound(err) {
			return nil, s.bucketMissing("objstore: list objects", err)
		}
		return nil, classify("objstore: list objects", err)
	}
	keys := make([]string, 0, len(out.Contents))
	for _, obj := range out.Contents {
		keys = append(keys, aws.ToString(obj.Key))
	}
	return keys, nil
}

// deleteKeys removes keys (at most deleteBatch) in one DeleteObjects call. A key the store
// reports it could not delete fails the call, naming the store's code, never the key.
func (s *Store) deleteKeys(ctx context.Context, keys []string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	ids := make([]types.ObjectIdentifier, len(keys))
	for i, k := range keys {
		ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
	}
	out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(s.bucket),
		Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	})
	if err != nil {
		if errorCode(err) == "NoSuchBucket" {
			return s.bucketMissing("objstore: delete objects", err)
		}
		return classify("objstore: delete objects", err)
	}
	for _, e := range out.Errors {
		if aws.ToString(e.Code) == "NoSuchKey" {
			continue
		}
		return fmt.Errorf("objstore: delete objects: %d of %d keys not deleted, the first with %s: %w",
			len(out.Errors), len(keys), aws.ToString(e.Code), outage.ErrUnavailable)
	}
	return nil
}
