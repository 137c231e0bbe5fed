package auth

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestVerifyRecoveryCode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	a := insertAccount(t, h, "uce")
	b := insertAccount(t, h, "e2e")
	verify := func(email, code string) (int, verifyResult, string) {
		t.Helper()
		resp := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/verify-recovery-code", "",
			map[string]string{"email": email, "recovery_code": code})
		var got verifyResult
		if resp.Code == http.StatusOK {
			resp.JSON(t, &got)
		} else {
			assertError(t, resp, http.StatusUnauthorized, "invalid_recovery_code")
		}
		return resp.Code, got, resp.Body.String()
	}

	// A code works once; the count goes down with each one spent.
	if code, got, body := verify(a.Email, a.RecoveryCodes[0]); code != http.StatusOK || !got.Valid || got.RemainingCodes != 9 {
		t.Fatalf("verify code 0 = %d %s, want 200 valid with 9 remaining", code, body)
	}
	spentBody := ""
	if code, _, body := verify(a.Email, a.RecoveryCodes[0]); code != http.StatusUnauthorized {
		t.Fatalf("verify code 0 again = %d %s, want 401", code, body)
	} else {
		spentBody = body
	}
	// Typed back in lower case without dashes, with the email in another case.
	typed := strings.ToLower(strings.ReplaceAll(a.RecoveryCodes[1], "-", ""))
	if code, got, body := verify(strings.ToUpper(a.Email), typed); code != http.StatusOK || got.RemainingCodes != 8 {
		t.Fatalf("verify code 1 as typed = %d %s, want 200 with 8 remaining", code, body)
	}

	tests := []struct{ name, email, code string }{
		{"unknown email", randomEmail(), a.RecoveryCodes[2]},
		{"another user's code", a.Email, b.RecoveryCodes[0]},
		{"the code under the other user's email", b.Email, a.RecoveryCodes[2]},
		{"a made-up code", a.Email, "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, body := verify(tt.email, tt.code); code != http.StatusUnauthorized || body != spentBody {
				t.Errorf("verify = %d %s, want the same 401 as a spent code: %s", code, body, spentBody)
			}
		})
	}
	// The failed attempts spent nothing.
	if code, got, body := verify(b.Email, b.RecoveryCodes[0]); code != http.StatusOK || got.RemainingCodes != 9 {
		t.Errorf("verify the other user's first code = %d %s, want 200 with 9 remaining", code, body)
	}
}

type verifyResult struct {
	Valid          bool `json:"valid"`
	RemainingCodes int  `json:"remaining_codes"`
}

// TestRecoveryCodeSpentOnceUnderRace sends one code many times at once: exactly one
// attempt may succeed.
func TestRecoveryCodeSpentOnceUnderRace(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, "LOGIN_RATE_ACCOUNT_LIMIT", "100")
	a := insertAccount(t, h, "e2e")
	const attempts = 8
	var wg sync.WaitGroup
	statuses := make(chan int, attempts)
	for range attempts {
		wg.Go(func() {
			resp := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/verify-recovery-code", "",
				map[string]string{"email": a.Email, "recovery_code": a.RecoveryCodes[3]})
			statuses <- resp.Code
		})
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	if counts[http.StatusOK] != 1 || counts[http.StatusUnauthorized] != attempts-1 {
		t.Errorf("statuses of %d concurrent attempts = %v, want one 200 and the rest 401", attempts, counts)
	}
}

func TestVerifyRecoveryCodeRequiresFields(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	resp := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/verify-recovery-code", "", map[string]string{"email": randomEmail()})
	e := assertError(t, resp, http.StatusUnprocessableEntity, "validation_error")
	if e.Fields["recovery_code"] == "" {
		t.Errorf("fields = %v, want a message for recovery_code", e.Fields)
	}
}
