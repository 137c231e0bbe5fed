module github.com/xmojo/diary/functions/entries

go 1.26.0
