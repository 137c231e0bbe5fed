package main

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
)

// TestRevocationReachesTheOtherFunctionsAtOnce: in this process every function has a
// session cache of its own, like separate instances in the cluster. A session read by the
// entries function (so cached there) and then ended through auth is refused by entries on
// the very next request, for each way auth ends a session (password change, reset and
// account deletion: TestAccountLifecycleAcrossFunctions).
func TestRevocationReachesTheOtherFunctionsAtOnce(t *testing.T) {
	w := newLifecycleWorld(t)
	type pair struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	// Each case has a user of its own (logins are rate limited per account).
	var email, password string
	var entry struct {
		ID string `json:"id"`
	}
	signup := func() pair {
		email, password = "revoke-"+uuid.NewString()[:8]+"@example.test", "a password to revoke with"
		var p pair
		w.do("POST", "/api/v1/auth/signup", "", map[string]string{"email": email, "password": password, "encryption_tier": "uce"},
			http.StatusCreated).JSON(t, &p)
		w.do("POST", "/api/v1/entries", p.AccessToken, map[string]string{"content": "still here"}, http.StatusCreated).JSON(t, &entry)
		return p
	}
	login := func() pair {
		var p pair
		w.do("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, http.StatusOK).JSON(t, &p)
		return p
	}
	tests := []struct {
		name string
		// end ends the session of victim through auth and returns it.
		end func(victim pair) pair
	}{
		{"logout", func(v pair) pair {
			w.do("POST", "/api/v1/auth/logout", v.AccessToken, nil, http.StatusNoContent)
			return v
		}},
		{"logout everywhere", func(v pair) pair {
			w.do("POST", "/api/v1/auth/logout-all", v.AccessToken, nil, http.StatusNoContent)
			return v
		}},
		{"a session revoked from another", func(v pair) pair {
			other := login()
			var list struct {
				Items []struct {
					ID      string `json:"id"`
					Current bool   `json:"current"`
				} `json:"items"`
			}
			w.do("GET", "/api/v1/auth/sessions", v.AccessToken, nil, http.StatusOK).JSON(t, &list)
			for _, it := range list.Items {
				if it.Current {
					w.do("DELETE", "/api/v1/auth/sessions/"+it.ID, other.AccessToken, nil, http.StatusNoContent)
				}
			}
			return v
		}},
		{"refresh token reused", func(v pair) pair {
			var next pair
			w.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": v.RefreshToken}, http.StatusOK).JSON(t, &next)
			w.readEntry(next.AccessToken, entry.ID, "still here") // cached again after the rotation
			w.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": v.RefreshToken}, http.StatusUnauthorized)
			return next
		}},
	}
	// No subtests: w fails through the test's own t.
	for _, tt := range tests {
		t.Log(tt.name)
		victim := signup()
		w.readEntry(victim.AccessToken, entry.ID, "still here")
		ended := tt.end(victim)
		w.do("GET", "/api/v1/entries/"+entry.ID, ended.AccessToken, nil, http.StatusUnauthorized)
	}
}
