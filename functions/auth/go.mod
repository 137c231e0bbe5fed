module github.com/xmojo/diary/functions/auth

go 1.26.0
