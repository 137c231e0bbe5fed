package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/testenv"
)

// TestLifecycleCallsLeakNoSecrets runs every call of the account lifecycle, failures
// included, on both tiers, and looks for the passwords, recovery codes (old and new), the
// master key, the key backup and the tokens in the logs, the answers' error bodies, the
// events sent, Redis and (except the backup, which is stored by design as the client sent
// it) every table of a database dump. The calls whose code differs by tier (the password
// change and new codes differ only in the uce key work) run on uce; the reset, the key
// backup and the deletion on both. Its logs are its own function's, so it runs in
// parallel.
func TestLifecycleCallsLeakNoSecrets(t *testing.T) {
	t.Parallel()
	logs := &testenv.LogBuffer{}
	sink := testenv.NewEventSink(t)
	h := newHarness(t, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), "K_SINK", sink.URL)
	var deleted []string     // the accounts deleted, whose account.deleted the sink must get
	var secrets []string     // must appear nowhere
	var dbSecrets []string   // must not appear in the database either
	var errorBodies []string // every answer that is not a success
	call := func(ip, method, path, access string, body any, headers ...string) testenv.Response {
		t.Helper()
		resp := do(t, h.h, ip, method, path, access, body, headers...)
		if resp.Code >= 300 {
			errorBodies = append(errorBodies, resp.Body.String())
		}
		return resp
	}
	addCodes := func(codes ...string) {
		for _, c := range codes {
			secrets = append(secrets, c, crypto.NormalizeRecoveryCode(c))
			dbSecrets = append(dbSecrets, c, crypto.NormalizeRecoveryCode(c))
		}
	}
	var masterKeys [][]byte
	blob := make([]byte, 2048)
	if _, err := rand.Read(blob); err != nil {
		t.Fatal(err)
	}
	blob64 := base64.StdEncoding.EncodeToString(blob)
	secrets = append(secrets, blob64)

	for _, tier := range []string{"uce", "e2e"} {
		a := insertAccount(t, h, tier)
		deleted = append(deleted, a.User.ID)
		addCodes(a.RecoveryCodes...)
		secrets = append(secrets, a.Password, a.AccessToken, a.RefreshToken)
		dbSecrets = append(dbSecrets, a.Password)
		if tier == "uce" {
			masterKeys = append(masterKeys, sessionMasterKey(t, h, a.AccessToken))
		}
		second, third, guess := "second password "+tier+" 0123", "third password "+tier+" 4567", "a wrong guess "+tier
		secrets = append(secrets, second, third, guess)
		dbSecrets = append(dbSecrets, second, third, guess)

		if tier == "uce" {
			call(a.ip, "POST", pathChangePassword, a.AccessToken, map[string]string{"current_password": guess, "new_password": second})
			call(a.ip, "POST", pathChangePassword, a.AccessToken, map[string]string{"current_password": a.Password, "new_password": "short"})
			var pair apiPair
			call(a.ip, "POST", pathChangePassword, a.AccessToken, map[string]string{"current_password": a.Password, "new_password": second}).JSON(t, &pair)
			secrets = append(secrets, pair.AccessToken, pair.RefreshToken)
		}

		call(a.ip, "POST", pathResetPassword, "", map[string]string{"email": a.Email, "recovery_code": "WRONG-" + a.RecoveryCodes[0], "new_password": third})
		call(a.ip, "POST", pathResetPassword, "", map[string]string{"email": "nobody-" + a.Email, "recovery_code": a.RecoveryCodes[0], "new_password": third})
		var reset apiReset
		call(a.ip, "POST", pathResetPassword, "", map[string]string{"email": a.Email, "recovery_code": a.RecoveryCodes[0], "new_password": third}).JSON(t, &reset)
		call(a.ip, "POST", pathResetPassword, "", map[string]string{"email": a.Email, "recovery_code": a.RecoveryCodes[0], "new_password": third})
		secrets = append(secrets, reset.AccessToken, reset.RefreshToken)
		token := reset.AccessToken

		if tier == "uce" {
			call(a.ip, "POST", pathRecoveryCodes, token, map[string]string{"password": guess})
			var codes struct {
				RecoveryCodes []string `json:"recovery_codes"`
			}
			call(a.ip, "POST", pathRecoveryCodes, token, map[string]string{"password": third}).JSON(t, &codes)
			if len(codes.RecoveryCodes) != recoveryCodeCount {
				t.Fatalf("POST /recovery-codes gave %d codes", len(codes.RecoveryCodes))
			}
			addCodes(codes.RecoveryCodes...)
		}

		call(a.ip, "GET", pathSessions, token, nil, "User-Agent", "privacy-test")
		extra := newSession(t, h, a.User.ID, tier, nil)
		secrets = append(secrets, extra.AccessToken, extra.RefreshToken)
		call(a.ip, "DELETE", pathSessions+"/00000000-0000-4000-8000-000000000000", token, nil)
		call(a.ip, "PUT", pathKeyBackup, token, map[string]string{"ciphertext": blob64})
		call(a.ip, "PUT", pathKeyBackup, token, map[string]string{"ciphertext": blob64 + "!"})
		call(a.ip, "GET", pathKeyBackup, token, nil)
		call(a.ip, "POST", pathLogoutAll, extra.AccessToken, nil)

		// Log in again (logout-all ended everything) and delete the account.
		r := call(a.ip, "POST", "/api/v1/auth/login", "", map[string]string{"email": a.Email, "password": third})
		var s apiSession
		r.JSON(t, &s)
		secrets = append(secrets, s.AccessToken, s.RefreshToken)
		call(a.ip, "DELETE", pathMe, s.AccessToken, map[string]string{"password": guess})
		if resp := call(a.ip, "DELETE", pathMe, s.AccessToken, map[string]string{"password": third}); resp.Code != http.StatusAccepted {
			t.Fatalf("DELETE /me = %d %s", resp.Code, resp.Body)
		}
		call(a.ip, "POST", "/api/v1/auth/login", "", map[string]string{"email": a.Email, "password": third})
	}

	out := logs.String()
	for _, want := range []string{`"route":"POST /api/v1/auth/change-password"`, `"route":"DELETE /api/v1/auth/me"`, `"status":401`} {
		if !strings.Contains(out, want) {
			t.Fatalf("captured logs lack %s; is the logger wired?", want)
		}
	}
	// The relay sends every row of the outbox (other tests' too): wait for these two.
	received := sink.Wait(t, func(evs []testenv.Event) bool {
		return len(testenv.Of(evs, deleted[0])) == 1 && len(testenv.Of(evs, deleted[1])) == 1
	})
	var events [][]byte
	for _, e := range received {
		events = append(events, []byte(e.ID+" "+e.Type+" "+e.Source+" "+e.Subject+" "+string(e.Data)))
	}
	places := map[string][][]byte{"the logs": {[]byte(out)}, "an event": events, "Redis": redisBlobs(t, h)}
	for _, b := range errorBodies {
		places["an error answer"] = append(places["an error answer"], []byte(b))
	}
	look := func(what string, needle []byte) {
		t.Helper()
		for place, blobs := range places {
			for _, b := range blobs {
				if bytes.Contains(b, needle) {
					t.Errorf("%s appears in %s (%.6q...)", what, place, needle)
					break
				}
			}
		}
	}
	for _, s := range secrets {
		look("a secret", []byte(s))
		if i := strings.LastIndex(s, ".") + 1; i > 0 && len(s)-i >= 20 {
			look("the tail of a token", []byte(s[i:]))
		}
	}
	for _, key := range append(masterKeys, blob) {
		for form, needle := range encodings(key) {
			look("a key or the key backup ("+form+")", needle)
		}
	}
	// The database holds no password or recovery code in any form a dump would show.
	for _, s := range dbSecrets {
		if found := testenv.RowsMentioning(t, h.svc.DB, s); len(found) > 0 {
			t.Errorf("a password or recovery code is stored in %v", found)
		}
	}
}
