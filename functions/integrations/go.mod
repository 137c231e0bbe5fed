module github.com/xmojo/diary/functions/integrations

go 1.26.0

require (
	github.com/google/uuid v1.6.0
	github.com/jackc/pgx/v5 v5.12.0
	github.com/redis/go-redis/v9 v9.23.0
	github.com/xmojo/diary/eventing v0.4.0
	github.com/xmojo/diary/shared v0.4.0
)
