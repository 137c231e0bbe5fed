module github.com/xmojo/diary/functions/fbsync

go 1.26.0

require (
	github.com/cloudevents/sdk-go/v2 v2.16.2
	github.com/google/uuid v1.6.0
	github.com/jackc/pgx/v5 v5.12.0
	github.com/redis/go-redis/v9 v9.23.0
	github.com/xmojo/diary/eventing v0.4.0
	github.com/xmojo/diary/shared v0.4.0
)
