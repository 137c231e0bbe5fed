module github.com/xmojo/diary/functions/auth

go 1.26.0

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/google/uuid v1.6.0
	github.com/jackc/pgx/v5 v5.12.0
	github.com/redis/go-redis/v9 v9.23.0
	github.com/xmojo/diary/shared v0.1.0
	golang.org/x/crypto v0.59.0
)
