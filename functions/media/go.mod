module github.com/xmojo/diary/functions/media

go 1.26.0
