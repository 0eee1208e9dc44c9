package hls

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Bucket reads and writes whole objects synchronously (recordings), on the
// same bucket and path prefix as the live offload.
type Bucket struct {
	cfg    S3Config
	client *minio.Client
	prefix string
}

// NewBucket connects (lazily) to the bucket; keyPrefix is prepended to
// every key after the configured path prefix (e.g. "recordings/").
func NewBucket(cfg S3Config, keyPrefix string) (*Bucket, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled {
		return nil, errors.New("s3: not enabled")
	}
	host, secure, _ := parseEndpoint(cfg.Endpoint)
	lookup := minio.BucketLookupAuto
	if cfg.ForcePathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(host, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.Secret, ""),
		Secure: secure, Region: cfg.Region, BucketLookup: lookup, MaxRetries: 3})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	prefix := strings.Trim(cfg.PathPrefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Bucket{cfg: cfg, client: client, prefix: prefix + keyPrefix}, nil
}

func (b *Bucket) key(k string) string { return path.Clean(b.prefix + k) }

// PutFile uploads a file.
func (b *Bucket) PutFile(ctx context.Context, key, file, contentType string) error {
	_, err := b.client.FPutObject(ctx, b.cfg.Bucket, b.key(key), file, minio.PutObjectOptions{ContentType: contentType})
	return err
}

// Object is an object being read: seekable, for range requests.
type Object interface {
	io.ReadSeekCloser
}

// Open opens an object; ErrNotExist-like errors report found=false.
func (b *Bucket) Open(ctx context.Context, key string) (Object, time.Time, bool, error) {
	obj, err := b.client.GetObject(ctx, b.cfg.Bucket, b.key(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, time.Time{}, false, err
	}
	st, err := obj.Stat()
	if err != nil {
		_ = obj.Close()
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, time.Time{}, false, nil
		}
		return nil, time.Time{}, false, err
	}
	return obj, st.LastModified, true, nil
}

// RemovePrefix deletes every object under a key prefix.
func (b *Bucket) RemovePrefix(ctx context.Context, prefix string) error {
	var errs []error
	for o := range b.client.ListObjects(ctx, b.cfg.Bucket, minio.ListObjectsOptions{Prefix: b.key(prefix) + "/", Recursive: true}) {
		if o.Err != nil {
			return o.Err
		}
		if err := b.client.RemoveObject(ctx, b.cfg.Bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
