package main

import "net/http"

// setupServer registers an admin, who creates one public server with four
// text channels (Together's test-http.js spreads its reads and sends over
// general, gaming, voice-text and off-topic).
func setupServer(hc *http.Client, base, run string) (admin *client, sid string, cids []string, err error) {
	admin = &client{base: base, http: hc}
	out, err := admin.do("POST", "/auth/register", map[string]string{"username": "lt_admin_" + run, "password": "LoadTest123!"}, 201)
	if err != nil {
		return nil, "", nil, err
	}
	admin.token = out["access_token"].(string)
	srv, err := admin.do("POST", "/servers", map[string]any{"name": "LT " + run, "is_public": true}, 201)
	if err != nil {
		return nil, "", nil, err
	}
	sid = srv["id"].(string)
	ch, err := admin.do("POST", "/servers/"+sid+"/channels", map[string]any{"name": "general", "type": "text"}, 201)
	if err != nil {
		return nil, "", nil, err
	}
	cid := ch["id"].(string)
	// Together's test-http.js spreads reads and sends over the server's
	// channels (general plus gaming, voice-text and off-topic).
	cids = []string{cid}
	for _, name := range []string{"gaming", "voice-text", "off-topic"} {
		c, err := admin.do("POST", "/servers/"+sid+"/channels", map[string]any{"name": name, "type": "text"}, 201)
		if err != nil {
			return nil, "", nil, err
		}
		cids = append(cids, c["id"].(string))
	}
	return admin, sid, cids, nil
}
