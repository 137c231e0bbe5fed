module github.com/xmojo/diary/functions/integrations

go 1.26.0

require (
	github.com/xmojo/diary/eventing v0.4.0
	github.com/xmojo/diary/shared v0.4.0
)
