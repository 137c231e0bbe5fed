module github.com/xmojo/diary/scripts/internal/slowclients

go 1.26.0
