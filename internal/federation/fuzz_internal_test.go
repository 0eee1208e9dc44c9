package federation

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzActivityJSON reads strangers' ActivityPub JSON the way the inbox and
// the actor fetch do: an activity's actor and object IRIs (string, object
// or array), an actor document's inbox, shared inbox, icon and keys. None of
// it may panic, and every IRI read back is a string the document held.
func FuzzActivityJSON(f *testing.F) {
	for _, s := range []string{
		`{"type":"Follow","actor":"https://a.example/u/x","object":"https://h.example/federation/user/live"}`,
		`{"type":"Undo","actor":{"id":"https://a.example/u/x"},"object":{"type":"Follow","actor":["https://a.example/u/x"]}}`,
		`{"type":"Like","actor":[{"href":"https://a.example/u/x"}],"object":{"id":"https://h.example/federation/1"}}`,
		`{"id":"https://a.example/u/x","inbox":"https://a.example/u/x/inbox","preferredUsername":"x","endpoints":{"sharedInbox":"https://a.example/inbox"},"icon":[{"url":"https://a.example/i.png"}],"publicKey":{"id":"https://a.example/u/x#main-key","owner":"https://a.example/u/x","publicKeyPem":"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"}}`,
		`{"icon":"https://a.example/i.png","publicKey":[null,1,"x",{"publicKeyPem":""}]}`,
		`[]`, `null`, `{"actor":[[[]]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var doc map[string]any
		if json.Unmarshal(b, &doc) != nil {
			return
		}
		for _, k := range []string{"actor", "object", "id", "href"} {
			if iri := idOf(doc[k]); iri != "" && !utf8.ValidString(iri) {
				t.Fatalf("%s: IRI %q is not text", k, iri)
			}
		}
		if inner, ok := doc["object"].(map[string]any); ok {
			_ = idOf(inner["actor"])
			_ = str(inner["type"])
		}
		a := parseActor(doc)
		if a.ID != str(doc["id"]) || a.Inbox != str(doc["inbox"]) {
			t.Fatalf("actor %+v does not read the document's id and inbox", a)
		}
		for _, k := range list(doc["publicKey"]) {
			km, _ := k.(map[string]any)
			if pem := str(km["publicKeyPem"]); pem != "" {
				_, _ = parsePublicKey(pem)
			}
		}
	})
}
