module github.com/xmojo/diary/functions/jobs

go 1.26.0
