package fbsync
