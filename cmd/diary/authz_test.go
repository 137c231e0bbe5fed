package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/xmojo/diary"
	"github.com/xmojo/diary/shared/facebook/facebooktest"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

// The tiers an account can have, as the document's x-diary-tiers names them.
var matrixTiers = []string{"uce", "e2e"}

// publicOperations are the operations API.md lets a client call without a token: signup,
// login, refresh, verify-recovery-code, reset-password (the user has lost the password,
// so has no session), /health and the document with its reference page, and the two
// Facebook calls made by Facebook or a person it sends (the data deletion callback and
// its status page), which carry no session of ours. Everything else (GET /auth/features
// too: it answers the caller's own tier and storage) needs a token.
var publicOperations = []string{
	"GET /api/v1/docs",
	"GET /api/v1/integrations/facebook/data-deletion/{code}",
	"GET /api/v1/openapi.json",
	"GET /health",
	"POST /api/v1/auth/login",
	"POST /api/v1/auth/refresh",
	"POST /api/v1/auth/reset-password",
	"POST /api/v1/auth/signup",
	"POST /api/v1/auth/verify-recovery-code",
	"POST /api/v1/integrations/facebook/data-deletion",
}

// TestAuthorizationMatrix asks every operation of the API document (the root
// openapi.json, loaded with kin-openapi) the questions an attacker would, with a request
// built from the operation's own schemas so that the answer comes from the authorization
// check, not from validation:
//   - without a token, with a malformed token, and with a revoked session of the very user
//     whose resources the path names: 401 not_authenticated, the resources unchanged (a
//     public operation, security [], must not ask for a token at all);
//   - as another user, naming the owner's real resources in every path parameter: 404 in
//     the error shape, the same answer as for an id that does not exist, and the resource
//     unchanged afterwards;
//   - as another user naming the owner's resource in a query parameter or body field (a
//     uuid named <kind>_id): the answer of an id that does not exist, resource unchanged;
//   - as a user of each tier, naming that user's own resources: 403
//     feature_unavailable_for_tier exactly where the document's x-diary-tiers says the
//     tier may not call the operation (or send a parameter's value), and never elsewhere.
//
// An operation added later is asked all of it as soon as it is in the document; a path
// parameter naming a kind of resource the matrix cannot create, or a body it cannot
// build, fails the test. Every exchange goes through testenv.Do's check against the
// document.
func TestAuthorizationMatrix(t *testing.T) {
	env, fake := facebookEnv(t)
	w := &matrixWorld{
		h:    startGateway(t, diary.NewInProcess(groupFunctions()), env),
		svc:  testenv.Services(t),
		fake: fake,
	}
	w.h = fromOwnAddresses(t, w.h)
	ops := matrixOperations(t, testenv.APIDocument(t))

	var public []string
	cases := map[string]int{}
	for _, op := range ops {
		if op.public {
			public = append(public, op.name)
		}
		t.Run(op.name, func(t *testing.T) {
			for c, n := range w.ask(t, op) {
				cases[c] += n
			}
		})
	}
	if !slices.Equal(public, publicOperations) {
		t.Errorf("operations with security [] = %q, want API.md's %q", public, publicOperations)
	}
	if len(ops) < 40 {
		t.Fatalf("only %d operations in the document", len(ops))
	}
	total := 0
	for _, n := range cases {
		total += n
	}
	t.Logf("authorization matrix: %d operations (%d public), %d requests: %v", len(ops), len(public), total, cases)
}

// matrixOperation is one operation of the document, as the matrix asks it.
type matrixOperation struct {
	name, method, path string
	op                 *openapi3.Operation
	params             openapi3.Parameters // the operation's and its path item's
	public             bool
	// tiers are the tiers that may call it (x-diary-tiers), nil for every tier.
	tiers []string
	// valueTiers are the values of a parameter or body field only some tiers may send.
	valueTiers []valueTiers
	// idFields are the query parameters and top-level body fields that name a resource
	// (format uuid, named <kind>_id), with the kind each names.
	idFields []idField
}

// idField is a query parameter or body field naming a resource of kind.
type idField struct {
	in, name, kind string
}

// valueTiers says that value of a query parameter or a top-level body field (in "query"
// or "body") may be sent only by tiers.
type valueTiers struct {
	field
	tiers []string
}

// matrixOperations lists every operation of doc, sorted, with what the document says of
// its security and tiers.
func matrixOperations(t *testing.T, doc *openapi3.T) []matrixOperation {
	t.Helper()
	var ops []matrixOperation
	for _, path := range slices.Sorted(maps.Keys(doc.Paths.Map())) {
		item := doc.Paths.Value(path)
		for method, op := range item.Operations() {
			m := matrixOperation{name: method + " " + path, method: method, path: path, op: op}
			m.params = append(append(m.params, op.Parameters...), item.Parameters...)
			security := doc.Security
			if op.Security != nil {
				security = *op.Security
			}
			m.public = len(security) == 0
			var err error
			if m.tiers, err = tierList(op.Extensions["x-diary-tiers"]); err != nil {
				t.Fatalf("%s: x-diary-tiers: %v", m.name, err)
			}
			for _, p := range m.params {
				if p.Value.Schema == nil {
					continue
				}
				vt, err := valueTierList("query", p.Value.Name, p.Value.Schema.Value)
				if err != nil {
					t.Fatalf("%s: parameter %s: %v", m.name, p.Value.Name, err)
				}
				if len(vt) > 0 && p.Value.In != "query" {
					t.Fatalf("%s: x-diary-tiers on the %s parameter %s: the matrix knows it on query parameters", m.name, p.Value.In, p.Value.Name)
				}
				m.valueTiers = append(m.valueTiers, vt...)
				if p.Value.In == "query" {
					m.idFields = append(m.idFields, idFieldOf(t, m.name, "query", p.Value.Name, p.Value.Schema.Value)...)
				}
			}
			if body := requestSchema(op); body != nil {
				for _, name := range slices.Sorted(maps.Keys(body.Properties)) {
					vt, err := valueTierList("body", name, body.Properties[name].Value)
					if err != nil {
						t.Fatalf("%s: body field %s: %v", m.name, name, err)
					}
					m.valueTiers = append(m.valueTiers, vt...)
					m.idFields = append(m.idFields, idFieldOf(t, m.name, "body", name, body.Properties[name].Value)...)
				}
			}
			if (m.tiers != nil || m.valueTiers != nil) && op.Responses.Status(http.StatusForbidden) == nil {
				t.Errorf("%s: x-diary-tiers refuses some tier, but the operation documents no 403", m.name)
			}
			ops = append(ops, m)
		}
	}
	slices.SortFunc(ops, func(a, b matrixOperation) int { return strings.Compare(a.name, b.name) })
	return ops
}

// idFieldOf returns the field as an idField when it names a resource: a uuid named
// <kind>_id, for a kind of resourceKinds (in the singular: entry_id names an entry). One
// of a kind the matrix cannot make fails the test.
func idFieldOf(t *testing.T, op, in, name string, s *openapi3.Schema) []idField {
	t.Helper()
	base, ok := strings.CutSuffix(name, "_id")
	if !ok || s.Format != "uuid" {
		return nil
	}
	for _, kind := range []string{base + "s", base + "es", strings.TrimSuffix(base, "y") + "ies", base} {
		if _, ok := resourceKinds[kind]; ok {
			return []idField{{in: in, name: name, kind: kind}}
		}
	}
	t.Errorf("%s: the %s field %s names a %q resource, for which the matrix has no fixture: add it to resourceKinds", op, in, name, base)
	return nil
}

// tierList reads an operation's x-diary-tiers: a list of known tiers, or nothing.
func tierList(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("%v is not a list of tiers", v)
	}
	var tiers []string
	for _, x := range list {
		s, _ := x.(string)
		if !slices.Contains(matrixTiers, s) {
			return nil, fmt.Errorf("%v names an unknown tier %q", v, x)
		}
		tiers = append(tiers, s)
	}
	return tiers, nil
}

// valueTierList reads a value schema's x-diary-tiers: each value it names must be one of
// the schema's enum.
func valueTierList(in, name string, s *openapi3.Schema) ([]valueTiers, error) {
	v := s.Extensions["x-diary-tiers"]
	if v == nil {
		return nil, nil
	}
	byValue, ok := v.(map[string]any)
	if !ok || len(byValue) == 0 {
		return nil, fmt.Errorf("x-diary-tiers %v is not a map of values to tiers", v)
	}
	var out []valueTiers
	for _, value := range slices.Sorted(maps.Keys(byValue)) {
		if !slices.Contains(s.Enum, any(value)) {
			return nil, fmt.Errorf("x-diary-tiers names %q, which is not in the enum %v", value, s.Enum)
		}
		tiers, err := tierList(byValue[value])
		if err != nil {
			return nil, fmt.Errorf("x-diary-tiers of %q: %w", value, err)
		}
		out = append(out, valueTiers{field: field{in: in, name: name, value: value}, tiers: tiers})
	}
	return out, nil
}

// requestSchema is the schema of the operation's request body, nil when it takes none.
func requestSchema(op *openapi3.Operation) *openapi3.Schema {
	if op.RequestBody == nil {
		return nil
	}
	for _, mt := range op.RequestBody.Value.Content {
		if mt.Schema != nil {
			return mt.Schema.Value
		}
	}
	return nil
}

// matrixWorld is the gateway the matrix asks, and the users it asks as.
type matrixWorld struct {
	h    http.Handler
	svc  *platform.Services
	fake *facebooktest.Fake
	// owners hold resources of every kind, one owner per tier, made when first needed.
	owners map[string]*matrixOwner
}

// matrixOwner is a user whose resources the others name.
type matrixOwner struct {
	user testenv.User
	// revoked is the access token of another session of the owner, revoked.
	revoked string
	ids     map[string]string // by resource kind
}

// resourceKind makes and observes one kind of resource a path parameter names.
type resourceKind struct {
	// create makes a resource of the kind for u and returns its id.
	create func(t *testing.T, w *matrixWorld, u testenv.User) string
	// state is everything stored of the resource, to tell whether a request changed it.
	state func(t *testing.T, w *matrixWorld, u testenv.User, id string) string
}

// resourceKinds are the kinds of resource path parameters name, by the path segment
// before the parameter (/entries/{id} names an entry).
var resourceKinds = map[string]resourceKind{
	"entries": {
		create: func(t *testing.T, w *matrixWorld, u testenv.User) string {
			body := map[string]any{"content": "the owner's words"}
			if u.Tier == "e2e" {
				body = map[string]any{"ciphertext": base64.StdEncoding.EncodeToString([]byte("the client's envelope"))}
			}
			var e struct{ ID string }
			w.want(t, u, http.StatusCreated, http.MethodPost, "/api/v1/entries", body).JSON(t, &e)
			return e.ID
		},
		state: rowState("entries"),
	},
	"media": {
		create: func(t *testing.T, w *matrixWorld, u testenv.User) string {
			var m struct{ Media struct{ ID string } }
			w.want(t, u, http.StatusCreated, http.MethodPost, "/api/v1/media/upload", map[string]any{
				"filename": "a.png", "content_type": "image/png", "size_bytes": 10, "sha256": randomHex(t)}).JSON(t, &m)
			return m.Media.ID
		},
		state: rowState("media"),
	},
	"jobs": {
		create: func(t *testing.T, w *matrixWorld, u testenv.User) string {
			id, err := job.Queue(context.Background(), w.svc.DB, u.ID, "matrix_fixture")
			if err != nil {
				t.Fatal(err)
			}
			return id
		},
		state: rowState("jobs"),
	},
	"imports": {
		create: func(t *testing.T, w *matrixWorld, u testenv.User) string {
			var i struct{ Import struct{ ID string } }
			w.want(t, u, http.StatusCreated, http.MethodPost, "/api/v1/imports", map[string]any{
				"format": "diary", "size_bytes": 100, "sha256": randomHex(t)}).JSON(t, &i)
			return i.Import.ID
		},
		state: rowState("imports"),
	},
	"integrations": {
		create: func(t *testing.T, w *matrixWorld, u testenv.User) string {
			fbID := "fb" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
			w.fake.AddUser(&facebooktest.User{ID: fbID, Name: "Owner", Pages: []facebooktest.Page{{ID: "pg" + fbID, Name: "Owner's Page"}}})
			var c struct{ State string }
			w.want(t, u, http.StatusOK, http.MethodPost, "/api/v1/integrations/facebook/connect", map[string]any{}).JSON(t, &c)
			var i struct{ ID string }
			w.want(t, u, http.StatusCreated, http.MethodPost, "/api/v1/integrations/facebook/callback",
				map[string]string{"code": w.fake.Authorize(fbID, fbRedirectURI), "state": c.State}).JSON(t, &i)
			return i.ID
		},
		state: rowState("integrations"),
	},
	"sessions": {
		create: func(t *testing.T, w *matrixWorld, u testenv.User) string {
			sess, _, err := w.svc.Sessions.Create(context.Background(), u.ID, u.Tier, u.MasterKey)
			if err != nil {
				t.Fatal(err)
			}
			return sess.ID
		},
		state: func(t *testing.T, w *matrixWorld, u testenv.User, id string) string {
			list, err := w.svc.Sessions.List(context.Background(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range list {
				if s.ID == id {
					return fmt.Sprintf("%+v", s)
				}
			}
			return "no such session"
		},
	},
}

// rowState is the state of a resource kept in one row of table.
func rowState(table string) func(t *testing.T, w *matrixWorld, u testenv.User, id string) string {
	return func(t *testing.T, w *matrixWorld, u testenv.User, id string) string {
		t.Helper()
		var state string
		q := `SELECT to_jsonb(r)::text FROM ` + table + ` AS r WHERE id = $1 AND user_id = $2`
		if err := w.svc.DB.QueryRow(context.Background(), q, id, u.ID).Scan(&state); err != nil {
			t.Fatalf("%s %s: %v", table, id, err)
		}
		return state
	}
}

func randomHex(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// want sends a request as u and fails the test unless it is answered status.
func (w *matrixWorld) want(t *testing.T, u testenv.User, status int, method, path string, body any) testenv.Response {
	t.Helper()
	res := testenv.Do(t, w.h, method, path, u.AccessToken, body)
	if res.Code != status {
		t.Fatalf("%s %s = %d %s, want %d", method, path, res.Code, res.Body, status)
	}
	return res
}

// owner is the owner of the tier, with a revoked session, made on first use.
func (w *matrixWorld) owner(t *testing.T, tier string) *matrixOwner {
	t.Helper()
	if o := w.owners[tier]; o != nil {
		return o
	}
	u := testenv.NewUser(t, w.svc, tier)
	o := &matrixOwner{user: u, ids: map[string]string{}}
	sess, _, err := w.svc.Sessions.Create(context.Background(), u.ID, tier, u.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	if o.revoked, _, err = testenv.Issuer(t).Issue(u.ID, sess.ID, tier); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.Sessions.Revoke(context.Background(), sess.ID); err != nil {
		t.Fatal(err)
	}
	if w.owners == nil {
		w.owners = map[string]*matrixOwner{}
	}
	w.owners[tier] = o
	return o
}

// pathKinds are the kinds of resource the path's parameters name, by parameter.
func pathKinds(path string) map[string]string {
	kinds := map[string]string{}
	segments := strings.Split(path, "/")
	for i, s := range segments {
		if strings.HasPrefix(s, "{") && i > 0 {
			kinds[strings.Trim(s, "{}")] = segments[i-1]
		}
	}
	return kinds
}

// resources returns u's resource for each path parameter of op (made with make), or fails
// the test naming a kind the matrix cannot make.
func (w *matrixWorld) resources(t *testing.T, op matrixOperation, u testenv.User, ids map[string]string) map[string]string {
	t.Helper()
	byParam := map[string]string{}
	for param, kind := range pathKinds(op.path) {
		k, ok := resourceKinds[kind]
		if !ok {
			t.Fatalf("%s: path parameter {%s} names a %q resource, for which the matrix has no fixture: add it to resourceKinds", op.name, param, kind)
		}
		if ids[kind] == "" {
			ids[kind] = k.create(t, w, u)
		}
		byParam[param] = ids[kind]
	}
	return byParam
}

// request is one request of the matrix.
type request struct {
	target string
	body   any
	header []string
}

// field is a query parameter or a top-level body field (in "query" or "body") and a
// value for it.
type field struct{ in, name, value string }

// build makes a request to op that its schemas accept, from a caller of tier, with path
// parameters from ids and overrides setting query parameters or body fields.
func (op matrixOperation) build(t *testing.T, tier string, ids map[string]string, overrides ...field) request {
	t.Helper()
	target := op.path
	query := url.Values{}
	var header []string
	for _, p := range op.params {
		v := p.Value
		switch {
		case v.In == "path":
			id, ok := ids[v.Name]
			if !ok {
				t.Fatalf("%s: no id for the path parameter %s", op.name, v.Name)
			}
			target = strings.ReplaceAll(target, "{"+v.Name+"}", url.PathEscape(id))
		case slices.ContainsFunc(overrides, func(f field) bool { return f.in == "query" && f.name == v.Name }):
			for _, f := range overrides {
				if f.in == "query" && f.name == v.Name {
					query.Set(v.Name, f.value)
				}
			}
		case v.Required:
			value, err := sample(v.Schema, tier)
			if err != nil {
				t.Fatalf("%s: parameter %s: %v", op.name, v.Name, err)
			}
			s := fmt.Sprint(value)
			switch v.In {
			case "query":
				query.Set(v.Name, s)
			case "header":
				header = append(header, v.Name, s)
			default:
				t.Fatalf("%s: the matrix cannot send a required %s parameter (%s)", op.name, v.In, v.Name)
			}
		}
	}
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	r := request{target: target, header: header}
	if op.op.RequestBody == nil {
		return r
	}
	for contentType, mt := range op.op.RequestBody.Value.Content {
		body, err := sample(mt.Schema, tier)
		if err != nil {
			t.Fatalf("%s: request body: %v", op.name, err)
		}
		for _, f := range overrides {
			if f.in == "body" {
				body.(map[string]any)[f.name] = f.value
			}
		}
		switch contentType {
		case "application/json":
			r.body = body
		case "application/x-www-form-urlencoded":
			form := url.Values{}
			for k, v := range body.(map[string]any) {
				form.Set(k, fmt.Sprint(v))
			}
			r.body = form.Encode()
			r.header = append(r.header, "Content-Type", contentType)
		default:
			t.Fatalf("%s: the matrix cannot send a %s body", op.name, contentType)
		}
		break // one body is enough, and the document gives each operation one type
	}
	return r
}

// sample builds a value the schema accepts, for a caller of tier: the schema's example
// where it has one, else the simplest value of its type with only the required fields.
// A string with a pattern and no example is an error: the document must give one.
func sample(ref *openapi3.SchemaRef, tier string) (any, error) {
	if ref == nil || ref.Value == nil {
		return nil, fmt.Errorf("no schema")
	}
	s := ref.Value
	switch {
	case len(s.Examples) > 0:
		return s.Examples[0], nil
	case s.Example != nil:
		return s.Example, nil
	case s.Const != nil:
		return s.Const, nil
	case len(s.Enum) > 0:
		vt, err := valueTierList("", "", s)
		if err != nil {
			return nil, err
		}
		for _, v := range s.Enum {
			if i := slices.IndexFunc(vt, func(x valueTiers) bool { return x.value == v }); i < 0 || slices.Contains(vt[i].tiers, tier) {
				return v, nil
			}
		}
		return nil, fmt.Errorf("no value of the enum %v is for %s", s.Enum, tier)
	case len(s.OneOf) > 0:
		// The branch of the caller's tier (x-diary-for-tier), else the first of no tier.
		var pick *openapi3.SchemaRef
		for _, b := range s.OneOf {
			switch b.Value.Extensions["x-diary-for-tier"] {
			case tier:
				pick = b
			case nil:
				if pick == nil {
					pick = b
				}
			}
		}
		if pick == nil {
			return nil, fmt.Errorf("no branch of oneOf is for %s", tier)
		}
		return sample(pick, tier)
	case len(s.AnyOf) > 0:
		return sample(s.AnyOf[0], tier)
	}
	typ := func(name string) bool { return s.Type != nil && s.Type.Includes(name) }
	switch {
	case typ("object") || (s.Type == nil && len(s.Properties) > 0):
		obj := map[string]any{}
		for _, name := range s.Required {
			v, err := sample(s.Properties[name], tier)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			obj[name] = v
		}
		return obj, nil
	case typ("string"):
		switch {
		case s.Pattern != "":
			return nil, fmt.Errorf("a string of pattern %q has no example: give it one", s.Pattern)
		case s.Format == "uuid":
			return uuid.NewString(), nil
		case s.Format == "email":
			return "matrix-" + uuid.NewString() + "@example.test", nil
		case s.Format == "uri":
			return fbRedirectURI, nil
		case s.Format == "date-time":
			return "2026-01-02T03:04:05Z", nil
		case s.Format == "byte" || s.ContentEncoding == "base64":
			return base64.StdEncoding.EncodeToString([]byte("matrix bytes, 32 of them, exact!")), nil
		case s.Format != "":
			return nil, fmt.Errorf("a string of format %q has no example: give it one", s.Format)
		}
		v := "matrix-value"
		if n := int(s.MinLength); n > len(v) {
			v += strings.Repeat("x", n-len(v))
		}
		if s.MaxLength != nil && uint64(len(v)) > *s.MaxLength {
			v = v[:*s.MaxLength]
		}
		return v, nil
	case typ("integer") || typ("number"):
		n := 1.0
		if s.Min != nil {
			n = math.Max(n, math.Ceil(*s.Min))
		}
		if s.Max != nil && n > *s.Max {
			n = math.Floor(*s.Max)
		}
		return n, nil
	case typ("boolean"):
		return false, nil
	case typ("array"):
		items := []any{}
		for range s.MinItems {
			v, err := sample(s.Items, tier)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		return items, nil
	}
	return nil, fmt.Errorf("cannot build a value of type %v", s.Type)
}

// apiError is the API's error shape.
type apiError struct {
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

// errorOf decodes an answer as the API's error shape, failing the test when it is not.
func errorOf(t *testing.T, res testenv.Response) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(res.Body.Bytes(), &e); err != nil || e.Detail == "" || !regexp.MustCompile(`^[a-z][a-z0-9_]*$`).MatchString(e.Code) {
		t.Errorf("%d %s is not the API's error shape {detail, code}", res.Code, res.Body)
	}
	return e
}

// isTierRefusal reports whether an answer is the refusal of the caller's tier.
func isTierRefusal(t *testing.T, res testenv.Response) bool {
	return res.Code == http.StatusForbidden && errorOf(t, res).Code == "feature_unavailable_for_tier"
}

// ask asks op every question of the matrix and returns how many requests it sent, by
// question.
func (w *matrixWorld) ask(t *testing.T, op matrixOperation) map[string]int {
	sent := map[string]int{}
	do := func(question, token string, r request) testenv.Response {
		t.Helper()
		sent[question]++
		return testenv.Do(t, w.h, op.method, r.target, token, r.body, r.header...)
	}
	tier := "uce"
	if op.tiers != nil {
		tier = op.tiers[0]
	}

	if op.public {
		// No token, and a stale one a client may still hold: never asked for one.
		r := op.build(t, tier, w.randomIDs(t, op))
		for _, token := range []string{"", "not-a-jwt"} {
			res := do("public", token, r)
			if res.Code == http.StatusUnauthorized && errorOf(t, res).Code == "not_authenticated" {
				t.Errorf("public, token %q: %s %s = %d %s, want an answer that asks for no token", token, op.method, r.target, res.Code, res.Body)
			}
			if res.Code >= 500 && res.Code != http.StatusServiceUnavailable {
				t.Errorf("public: %s %s = %d %s", op.method, r.target, res.Code, res.Body)
			}
		}
		return sent
	}

	// The owner's own resources, asked without a valid session of the owner.
	owner := w.owner(t, tier)
	owned := w.resources(t, op, owner.user, owner.ids)
	r := op.build(t, tier, owned)
	before := w.states(t, op, owner)
	for _, c := range []struct{ who, token string }{{"no token", ""}, {"malformed token", "not-a-jwt"}, {"revoked session", owner.revoked}} {
		res := do(c.who, c.token, r)
		if res.Code != http.StatusUnauthorized || errorOf(t, res).Code != "not_authenticated" {
			t.Errorf("%s: %s %s = %d %s, want 401 not_authenticated", c.who, op.method, r.target, res.Code, res.Body)
		}
	}
	if after := w.states(t, op, owner); !maps.Equal(before, after) {
		t.Errorf("%s without a valid session changed the owner's resources:\nbefore %v\nafter  %v", op.name, before, after)
	}

	// Another user of the same tier, naming the owner's resources: the answer of an id that
	// does not exist, and nothing of the owner's changes.
	if len(owned) > 0 {
		stranger := testenv.NewUser(t, w.svc, tier)
		res := do("another user's path ids", stranger.AccessToken, r)
		if res.Code != http.StatusNotFound {
			t.Errorf("another user's ids: %s %s = %d %s, want 404", op.method, r.target, res.Code, res.Body)
		} else {
			got := errorOf(t, res)
			rnd := op.build(t, tier, w.randomIDs(t, op))
			missing := do("another user's path ids", stranger.AccessToken, rnd)
			if want := errorOf(t, missing); missing.Code != res.Code || got != want {
				t.Errorf("another user's ids: %s = %d %+v, but ids that do not exist: %d %+v; want the same answer", op.name, res.Code, got, missing.Code, want)
			}
		}
		if after := w.states(t, op, owner); !maps.Equal(before, after) {
			t.Errorf("another user's %s changed the owner's resources:\nbefore %v\nafter  %v", op.name, before, after)
		}
	}

	// Another user naming the owner's resource in a query parameter or body field (their
	// own in the path): answered as an id that does not exist would be, and the owner's
	// resource unchanged.
	for _, f := range op.idFields {
		stranger := testenv.NewUser(t, w.svc, tier)
		own := w.resources(t, op, stranger, map[string]string{})
		if owner.ids[f.kind] == "" {
			owner.ids[f.kind] = resourceKinds[f.kind].create(t, w, owner.user)
		}
		kind := resourceKinds[f.kind]
		before := kind.state(t, w, owner.user, owner.ids[f.kind])
		theirs := do("another user's ids in fields", stranger.AccessToken, op.build(t, tier, own, field{f.in, f.name, owner.ids[f.kind]}))
		missing := do("another user's ids in fields", stranger.AccessToken, op.build(t, tier, own, field{f.in, f.name, uuid.NewString()}))
		same := theirs.Code == missing.Code
		switch {
		case theirs.Code >= 400:
			same = same && errorOf(t, theirs) == errorOf(t, missing)
		case op.method == http.MethodGet:
			same = same && theirs.Body.String() == missing.Body.String()
		default:
			t.Errorf("another user's %s in %s %s: %s = %d %s, want it refused as an id that does not exist", f.kind, f.in, f.name, op.name, theirs.Code, theirs.Body)
		}
		if !same {
			t.Errorf("another user's %s in %s %s: %s = %d %s, but an id that does not exist: %d %s; want the same answer",
				f.kind, f.in, f.name, op.name, theirs.Code, theirs.Body, missing.Code, missing.Body)
		}
		if after := kind.state(t, w, owner.user, owner.ids[f.kind]); after != before {
			t.Errorf("another user's %s with the owner's %s in %s changed it:\nbefore %s\nafter  %s", op.name, f.kind, f.name, before, after)
		}
	}

	// Each tier, naming its own resources: refused exactly where the document says.
	for _, tier := range matrixTiers {
		variants := []*valueTiers{nil}
		for i := range op.valueTiers {
			variants = append(variants, &op.valueTiers[i])
		}
		for _, v := range variants {
			u := testenv.NewUser(t, w.svc, tier)
			ids := map[string]string{}
			var overrides []field
			for _, f := range op.idFields {
				if ids[f.kind] == "" {
					ids[f.kind] = resourceKinds[f.kind].create(t, w, u)
				}
				overrides = append(overrides, field{f.in, f.name, ids[f.kind]})
			}
			if v != nil {
				overrides = append(overrides, v.field)
			}
			r := op.build(t, tier, w.resources(t, op, u, ids), overrides...)
			allowed := op.tiers == nil || slices.Contains(op.tiers, tier)
			what := "the operation"
			if v != nil {
				allowed = allowed && slices.Contains(v.tiers, tier)
				what = fmt.Sprintf("%s %s=%s", v.in, v.name, v.value)
			}
			res := do("tier", u.AccessToken, r)
			switch refused := isTierRefusal(t, res); {
			case allowed && refused:
				t.Errorf("%s, %s: %s %s = %d %s, but the document allows %s to the tier", tier, what, op.method, r.target, res.Code, res.Body, what)
			case !allowed && !refused:
				t.Errorf("%s, %s: %s %s = %d %s, want 403 feature_unavailable_for_tier (x-diary-tiers)", tier, what, op.method, r.target, res.Code, res.Body)
			case res.Code >= 500 && res.Code != http.StatusServiceUnavailable:
				t.Errorf("%s: %s %s = %d %s", tier, op.method, r.target, res.Code, res.Body)
			}
		}
	}
	return sent
}

// randomIDs fills every path parameter of op with a value of its schema that names
// nothing (a fresh uuid for an id).
func (w *matrixWorld) randomIDs(t *testing.T, op matrixOperation) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, p := range op.params {
		if p.Value.In != "path" {
			continue
		}
		v, err := sample(p.Value.Schema, "")
		if err != nil {
			t.Fatalf("%s: path parameter %s: %v", op.name, p.Value.Name, err)
		}
		ids[p.Value.Name] = fmt.Sprint(v)
	}
	return ids
}

// states is the state of each of the owner's resources op's path names, by kind.
func (w *matrixWorld) states(t *testing.T, op matrixOperation, o *matrixOwner) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, kind := range pathKinds(op.path) {
		out[kind] = resourceKinds[kind].state(t, w, o.user, o.ids[kind])
	}
	return out
}
