// Package platform connects a function to the services every HTTP function needs:
// PostgreSQL, Redis, the session store and the access-token verifier, and holds the
// lifecycle hooks they all share. Each function embeds Config in its own config struct and
// Lifecycle in its Function, calls Connect from its Start hook, then Serve.
package platform

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/metrics"
	"github.com/xmojo/diary/shared/outage"
	"github.com/xmojo/diary/shared/session"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/token"
)

// Config is the part of every HTTP function's settings that reaches the shared services.
type Config struct {
	DatabaseURL  string `envconfig:"DATABASE_URL" required:"true"`
	RedisURL     string `envconfig:"REDIS_URL" required:"true"`
	JWTPublicKey string `envconfig:"JWT_PUBLIC_KEY" required:"true"`
	JWTIssuer    string `envconfig:"JWT_ISSUER" default:"diary-auth"`
	JWTAudience  string `envconfig:"JWT_AUDIENCE" default:"diary-api"`
	SessionKey   string `envconfig:"SESSION_KEY" required:"true"`
	// MetricsAddress is where the function serves GET /metrics (shared/metrics) on a
	// listener of its own, which the public host never reaches; empty serves none. In the
	// all-in-one process the gateway's listener serves them instead.
	MetricsAddress string `envconfig:"METRICS_ADDRESS"`
	// SessionCacheTTL is how long the instance keeps a session it verified, so requests
	// in that time cost no Redis lookup (shared/session, cache.go); 0 turns the cache off.
	// Revocations reach every instance's cache before they return, whatever the TTL.
	SessionCacheTTL time.Duration `envconfig:"SESSION_CACHE_TTL" default:"2s"`
	// SessionCacheSize bounds how many sessions the instance's cache holds.
	SessionCacheSize int `envconfig:"SESSION_CACHE_SIZE" default:"10000"`
}

// Services are the live connections built from Config.
type Services struct {
	DB       *pgxpool.Pool
	Redis    *redis.Client
	Sessions *session.Store
	Verifier *token.Verifier
	// metrics is the metrics listener Connect started, if any.
	metrics *metrics.Listener
}

// Connect opens the connections. Errors name the setting at fault, never its value nor a
// driver's message about it (which holds the host and the user).
func Connect(ctx context.Context, cfg Config) (*Services, error) {
	pub, err := token.ParsePublicKey(cfg.JWTPublicKey)
	if err != nil {
		return nil, fmt.Errorf("platform: JWT_PUBLIC_KEY: %w", err)
	}
	sessKey, err := base64.StdEncoding.DecodeString(cfg.SessionKey)
	if err != nil || len(sessKey) != 32 {
		return nil, errors.New("platform: SESSION_KEY must be the standard base64 of 32 bytes")
	}
	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, errors.New("platform: REDIS_URL is not a valid redis:// URL")
	}
	rdb := redis.NewClient(ropts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("platform: %w", config.Unreachable("REDIS_URL", "redis", err))
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		rdb.Close()
		if errors.Is(err, outage.ErrUnavailable) {
			err = config.Unreachable("DATABASE_URL", "postgres", err)
		}
		return nil, fmt.Errorf("platform: %w", err)
	}
	sessions, err := session.NewStore(rdb, sessKey)
	if err != nil {
		db.Close()
		rdb.Close()
		return nil, fmt.Errorf("platform: SESSION_KEY: %w", err)
	}
	if cfg.SessionCacheTTL < 0 || cfg.SessionCacheTTL > time.Minute || cfg.SessionCacheSize <= 0 {
		db.Close()
		rdb.Close()
		return nil, errors.New("platform: SESSION_CACHE_TTL must be between 0 and 1m, and SESSION_CACHE_SIZE positive")
	}
	if cfg.SessionCacheTTL > 0 {
		if err := sessions.StartCache(cfg.SessionCacheTTL, cfg.SessionCacheSize); err != nil {
			db.Close()
			rdb.Close()
			return nil, fmt.Errorf("platform: %w", err)
		}
	}
	svc := &Services{
		DB:       db,
		Redis:    rdb,
		Sessions: sessions,
		Verifier: token.NewVerifier(pub, cfg.JWTIssuer, cfg.JWTAudience),
	}
	if cfg.MetricsAddress != "" {
		if svc.metrics, err = metrics.Serve(cfg.MetricsAddress); err != nil {
			svc.Close()
			return nil, fmt.Errorf("platform: %w", err)
		}
	}
	return svc, nil
}

// Ready reports whether PostgreSQL and Redis answer. A failure names the one that does not
// and its setting, never the driver's message (config.Unreachable).
func (s *Services) Ready(ctx context.Context) (bool, error) {
	if err := s.DB.Ping(ctx); err != nil {
		return false, fmt.Errorf("platform: %w", config.Unreachable("DATABASE_URL", "postgres", err))
	}
	if err := s.Redis.Ping(ctx).Err(); err != nil {
		return false, fmt.Errorf("platform: %w", config.Unreachable("REDIS_URL", "redis", err))
	}
	return true, nil
}

// Close releases the connections.
func (s *Services) Close() {
	if err := s.Sessions.Close(); err != nil {
		slog.Warn("platform: close the session cache", "error", err.Error())
	}
	s.DB.Close()
	_ = s.Redis.Close()
	if s.metrics != nil {
		_ = s.metrics.Close(context.Background())
	}
}
