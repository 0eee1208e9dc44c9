package hls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config is Owncast's S3 storage settings.
type S3Config struct {
	Enabled         bool
	Endpoint        string // https://s3.example.com (scheme optional: https assumed)
	AccessKey       string
	Secret          string
	Bucket          string
	Region          string
	ACL             string // e.g. public-read (sent as x-amz-acl)
	PathPrefix      string
	ForcePathStyle  bool
	ServingEndpoint string // CDN base URL for playlists; empty: endpoint/bucket
}

// Validate reports a configuration S3 offload cannot work with.
func (c S3Config) Validate() error {
	if !c.Enabled {
		return nil
	}
	if c.Endpoint == "" || c.Bucket == "" {
		return errors.New("s3: endpoint and bucket are required")
	}
	if _, _, err := parseEndpoint(c.Endpoint); err != nil {
		return err
	}
	if c.ServingEndpoint != "" {
		u, err := url.Parse(c.ServingEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("s3: serving endpoint must be an http(s) URL")
		}
	}
	return nil
}

func parseEndpoint(ep string) (host string, secure bool, err error) {
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false, fmt.Errorf("s3: endpoint %q must be a host or an http(s) URL", ep)
	}
	return u.Host, u.Scheme == "https", nil
}

// BaseURL is where uploaded objects are served from: the serving endpoint,
// or endpoint/bucket, with the path prefix.
func (c S3Config) BaseURL() string {
	base := strings.TrimSuffix(c.ServingEndpoint, "/")
	if base == "" {
		host, secure, _ := parseEndpoint(c.Endpoint)
		scheme := "https"
		if !secure {
			scheme = "http"
		}
		base = scheme + "://" + host + "/" + c.Bucket
	}
	if p := strings.Trim(c.PathPrefix, "/"); p != "" {
		base += "/" + p
	}
	return base
}

// Uploader puts segments and playlists into a bucket as they are cut, in
// order, retrying each upload with backoff; a slow or failing bucket never
// blocks the segmenter (the queue is bounded; the oldest work is dropped).
type Uploader struct {
	cfg    S3Config
	client *minio.Client
	prefix string
	log    *slog.Logger
	tries  int
	wait   time.Duration

	mu      sync.Mutex
	queue   []job
	wake    chan struct{}
	failed  int
	done    int
	stopped bool
}

type job struct {
	key, ctype, cache string
	data              []byte
	del               bool
}

const maxQueue = 256

// NewUploader connects (lazily) to the bucket; keyPrefix is prepended to
// every key after the configured path prefix (e.g. "hls/").
func NewUploader(cfg S3Config, keyPrefix string, log *slog.Logger) (*Uploader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, secure, _ := parseEndpoint(cfg.Endpoint)
	lookup := minio.BucketLookupAuto
	if cfg.ForcePathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(host, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.Secret, ""),
		Secure: secure, Region: cfg.Region, BucketLookup: lookup, MaxRetries: 1}) // retries are ours (Uploader.tries)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	prefix := strings.Trim(cfg.PathPrefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Uploader{cfg: cfg, client: client, prefix: prefix + keyPrefix, log: log, tries: 4, wait: 250 * time.Millisecond,
		wake: make(chan struct{}, 1)}, nil
}

// Put queues an upload.
func (u *Uploader) Put(key string, data []byte, ctype, cache string) {
	u.enqueue(job{key: key, data: data, ctype: ctype, cache: cache})
}

// Delete queues a removal.
func (u *Uploader) Delete(key string) { u.enqueue(job{key: key, del: true}) }

func (u *Uploader) enqueue(j job) {
	u.mu.Lock()
	if u.stopped {
		u.mu.Unlock()
		return
	}
	if len(u.queue) >= maxQueue {
		u.queue = u.queue[1:]
		u.failed++
	}
	u.queue = append(u.queue, j)
	u.mu.Unlock()
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// Stats returns how many uploads finished and how many were given up.
func (u *Uploader) Stats() (done, failed int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.done, u.failed
}

// Idle reports whether nothing is queued.
func (u *Uploader) Idle() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.queue) == 0
}

// Run uploads queued work until ctx ends.
func (u *Uploader) Run(ctx context.Context) error {
	defer func() {
		u.mu.Lock()
		u.stopped = true
		u.mu.Unlock()
	}()
	for {
		u.mu.Lock()
		var j *job
		if len(u.queue) > 0 {
			j = &u.queue[0]
		}
		u.mu.Unlock()
		if j == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-u.wake:
				continue
			}
		}
		err := u.do(ctx, *j)
		u.mu.Lock()
		if len(u.queue) > 0 {
			u.queue = u.queue[1:]
		}
		if err != nil {
			u.failed++
		} else {
			u.done++
		}
		u.mu.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			u.log.Warn("s3: giving up on an upload", "key", j.key, "err", err)
		}
	}
}

func (u *Uploader) do(ctx context.Context, j job) error {
	key := path.Clean(u.prefix + j.key)
	wait := u.wait
	var err error
	for try := 0; try < u.tries; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if j.del {
			err = u.client.RemoveObject(cctx, u.cfg.Bucket, key, minio.RemoveObjectOptions{})
		} else {
			opts := minio.PutObjectOptions{ContentType: j.ctype, CacheControl: j.cache, DisableMultipart: true}
			if u.cfg.ACL != "" {
				opts.UserMetadata = map[string]string{"x-amz-acl": u.cfg.ACL}
			}
			_, err = u.client.PutObject(cctx, u.cfg.Bucket, key, bytes.NewReader(j.data), int64(len(j.data)), opts)
		}
		cancel()
		if err == nil {
			return nil
		}
	}
	return err
}
