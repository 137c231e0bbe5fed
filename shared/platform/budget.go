package platform

import "time"

// RequestBudget is the longest a group function may take to answer a request it has
// accepted, its waits for bounded work included. It is the contract between the gateway
// and the functions behind it: each function keeps its slowest request within it (auth,
// the slowest, checks that its waits for a bcrypt slot and an Argon2id slot plus the work
// fit), and the gateway's UPSTREAM_TIMEOUT must exceed it by at least a cold start (the
// gateway's tests check its default and func.yaml), so the gateway never gives up on a
// request the function is still working on.
const RequestBudget = 20 * time.Second
