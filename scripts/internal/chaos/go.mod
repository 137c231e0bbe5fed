module github.com/xmojo/diary/scripts/internal/chaos

go 1.26.0
