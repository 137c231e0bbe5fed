module github.com/xmojo/diary/scripts/internal/coldstart

go 1.26.0
