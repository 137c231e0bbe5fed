module github.com/xmojo/diary

go 1.26.0
