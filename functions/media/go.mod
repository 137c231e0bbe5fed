module github.com/xmojo/diary/functions/media

go 1.26.0

require (
	github.com/google/uuid v1.6.0
	github.com/jackc/pgx/v5 v5.12.0
	github.com/xmojo/diary/shared v0.1.0
)
