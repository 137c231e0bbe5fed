module github.com/xmojo/diary/functions/janitor

go 1.26.0
