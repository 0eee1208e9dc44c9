package ott

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/watch"
)

// OpenTogetherTube's JSON for the watch domain's model: the domain has no
// wire names, so every room value a client sees or sends is translated
// here. Field order and omitted fields are OTT's (golden_test.go pins the
// bytes).

// wireVideo is OTT's Video (a queue item).
type wireVideo struct {
	Service     string   `json:"service"`
	ID          string   `json:"id"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Thumbnail   string   `json:"thumbnail,omitempty"`
	Length      float64  `json:"length,omitempty"`
	Mime        string   `json:"mime,omitempty"`
	Highlight   bool     `json:"highlight,omitempty"`
	HLSURL      string   `json:"hls_url,omitempty"`
	DashURL     string   `json:"dash_url,omitempty"`
	SrcURL      string   `json:"src_url,omitempty"`
	SubtitleURL string   `json:"subtitleUrl,omitempty"`
	StartAt     *float64 `json:"startAt,omitempty"`
	EndAt       *float64 `json:"endAt,omitempty"`
}

func videoOut(v *watch.Video) *wireVideo {
	if v == nil {
		return nil
	}
	w := wireVideo(*v)
	return &w
}

// videosOut keeps nil as null and empty as [].
func videosOut(vs []watch.Video) []wireVideo {
	if vs == nil {
		return nil
	}
	out := make([]wireVideo, len(vs))
	for i, v := range vs {
		out[i] = wireVideo(v)
	}
	return out
}

func videosIn(vs []wireVideo) []watch.Video {
	if vs == nil {
		return nil
	}
	out := make([]watch.Video, len(vs))
	for i, v := range vs {
		out[i] = watch.Video(v)
	}
	return out
}

func videoIn(v *wireVideo) *watch.Video {
	if v == nil {
		return nil
	}
	o := watch.Video(*v)
	return &o
}

// wireVideoRef names a video in a request.
type wireVideoRef struct {
	Service     string `json:"service"`
	ID          string `json:"id"`
	SubtitleURL string `json:"subtitleUrl,omitempty"`
}

func refsIn(rs []wireVideoRef) []watch.VideoRef {
	if rs == nil {
		return nil
	}
	out := make([]watch.VideoRef, len(rs))
	for i, r := range rs {
		out[i] = watch.VideoRef(r)
	}
	return out
}

func refsOut(rs []watch.VideoRef) []wireVideoRef {
	if rs == nil {
		return nil
	}
	out := make([]wireVideoRef, len(rs))
	for i, r := range rs {
		out[i] = wireVideoRef(r)
	}
	return out
}

// wireUserUpdateInfo is OTT's ClientInfo (JoinRequest and UpdateUser):
// the display name is "username" there, as OTT sends it for a guest. OTT
// names a signed-in user by its numeric user_id instead, which Hearth's
// accounts do not have, so the name is sent for everyone.
type wireUserUpdateInfo struct {
	ID     string `json:"id,omitempty"`
	Name   string `json:"username,omitempty"`
	Status string `json:"status,omitempty"`
}

type wireQueueItemUpdate struct {
	SubtitleURL *string `json:"subtitleUrl,omitempty"`
}

// wireRequest is OTT's RoomRequest, every kind in one shape.
type wireRequest struct {
	Type           watch.RequestType    `json:"type"`
	Info           *wireUserUpdateInfo  `json:"info,omitempty"`
	State          *bool                `json:"state,omitempty"`
	Value          *float64             `json:"value,omitempty"`
	Video          *wireVideoRef        `json:"video,omitempty"`
	Videos         []wireVideoRef       `json:"videos,omitempty"`
	URL            string               `json:"url,omitempty"`
	FromIdx        *int                 `json:"fromIdx,omitempty"`
	ToIdx          *int                 `json:"toIdx,omitempty"`
	Add            *bool                `json:"add,omitempty"`
	TargetClientID string               `json:"targetClientId,omitempty"`
	Role           *watch.Role          `json:"role,omitempty"`
	Text           *string              `json:"text,omitempty"`
	Event          *wireEventRecord     `json:"event,omitempty"`
	Settings       json.RawMessage      `json:"settings,omitempty"`
	Speed          *float64             `json:"speed,omitempty"`
	Discard        *bool                `json:"discard,omitempty"`
	ClientID       string               `json:"clientId,omitempty"`
	Update         *wireQueueItemUpdate `json:"update,omitempty"`
	// Ban (Hearth extension on KickRequest) also bars the account.
	Ban *bool `json:"ban,omitempty"`
}

// request translates a request as a client sent it; a settings change
// that cannot be read is refused here, as a bad argument.
func (w *wireRequest) request() (watch.Request, error) {
	r, err := w.fields()
	if err != nil || w.Type != watch.ReqApplySettings {
		return r, err
	}
	s, err := parseSettings(w.Settings)
	if err != nil {
		return r, err
	}
	r.Settings = s
	return r, nil
}

// fields translates everything but a settings change (which an event
// sent back for undo does not need).
func (w *wireRequest) fields() (watch.Request, error) {
	r := watch.Request{Type: w.Type, State: w.State, Value: w.Value, Videos: refsIn(w.Videos), URL: w.URL,
		FromIdx: w.FromIdx, ToIdx: w.ToIdx, Add: w.Add, TargetClientID: w.TargetClientID, Role: w.Role, Text: w.Text,
		Speed: w.Speed, Discard: w.Discard, ClientID: w.ClientID, Ban: w.Ban}
	if w.Info != nil {
		r.Info = &watch.UserUpdateInfo{ID: w.Info.ID, Name: w.Info.Name, Status: w.Info.Status}
	}
	if w.Video != nil {
		v := watch.VideoRef(*w.Video)
		r.Video = &v
	}
	if w.Update != nil {
		r.Update = &watch.QueueItemUpdate{SubtitleURL: w.Update.SubtitleURL}
	}
	if w.Event != nil {
		ev, err := w.Event.record()
		if err != nil {
			return r, err
		}
		r.Event = ev
	}
	return r, nil
}

// requestOut is the request as events echo it.
func requestOut(r watch.Request) wireRequest {
	w := wireRequest{Type: r.Type, State: r.State, Value: r.Value, Videos: refsOut(r.Videos), URL: r.URL,
		FromIdx: r.FromIdx, ToIdx: r.ToIdx, Add: r.Add, TargetClientID: r.TargetClientID, Role: r.Role, Text: r.Text,
		Speed: r.Speed, Discard: r.Discard, ClientID: r.ClientID, Ban: r.Ban}
	if r.Info != nil {
		w.Info = &wireUserUpdateInfo{ID: r.Info.ID, Name: r.Info.Name, Status: r.Info.Status}
	}
	if r.Video != nil {
		v := wireVideoRef(*r.Video)
		w.Video = &v
	}
	if r.Update != nil {
		w.Update = &wireQueueItemUpdate{SubtitleURL: r.Update.SubtitleURL}
	}
	if r.Event != nil {
		ev := eventRecordOut(*r.Event)
		w.Event = &ev
	}
	return w
}

// wireUser is OTT's RoomUserInfo as events and chat carry it.
type wireUser struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	IsLoggedIn bool       `json:"isLoggedIn"`
	Status     string     `json:"status"`
	Role       watch.Role `json:"role"`
}

// wireUserSorted is the same user with its keys in alphabetical order:
// the order user-list updates have always gone out in.
type wireUserSorted struct {
	ID         string     `json:"id"`
	IsLoggedIn bool       `json:"isLoggedIn"`
	Name       string     `json:"name"`
	Role       watch.Role `json:"role"`
	Status     string     `json:"status"`
}

func sortedUser(u watch.UserInfo) wireUserSorted {
	return wireUserSorted{ID: u.ID, IsLoggedIn: u.IsLoggedIn, Name: u.Name, Role: u.Role, Status: u.Status}
}

func usersOut(us []watch.UserInfo) []wireUser {
	out := make([]wireUser, len(us))
	for i, u := range us {
		out[i] = wireUser(u)
	}
	return out
}

type wireAdditional struct {
	Video        *wireVideo  `json:"video,omitempty"`
	Videos       []wireVideo `json:"videos,omitempty"`
	PrevPosition *float64    `json:"prevPosition,omitempty"`
	QueueIdx     *int        `json:"queueIdx,omitempty"`
	User         *wireUser   `json:"user,omitempty"`
}

// wireEventRecord is OTT's ServerMessageEvent body; clients send it back
// to undo.
type wireEventRecord struct {
	Request    wireRequest    `json:"request"`
	User       wireUser       `json:"user"`
	Additional wireAdditional `json:"additional"`
}

func eventRecordOut(e watch.EventRecord) wireEventRecord {
	w := wireEventRecord{Request: requestOut(e.Request), User: wireUser(e.User)}
	a := e.Additional
	w.Additional = wireAdditional{Video: videoOut(a.Video), Videos: videosOut(a.Videos), PrevPosition: a.PrevPosition, QueueIdx: a.QueueIdx}
	if a.User != nil {
		u := wireUser(*a.User)
		w.Additional.User = &u
	}
	return w
}

func (w *wireEventRecord) record() (*watch.EventRecord, error) {
	req, err := w.Request.fields()
	if err != nil {
		return nil, err
	}
	e := &watch.EventRecord{Request: req, User: watch.UserInfo(w.User)}
	a := w.Additional
	e.Additional = watch.Additional{Video: videoIn(a.Video), Videos: videosIn(a.Videos), PrevPosition: a.PrevPosition, QueueIdx: a.QueueIdx}
	if a.User != nil {
		u := watch.UserInfo(*a.User)
		e.Additional.User = &u
	}
	return e, nil
}

// wireSettings is OTT's room settings object (PATCH /api/room/{name} and
// the ApplySettings request).
type wireSettings struct {
	Title                     *string           `json:"title,omitempty"`
	Description               *string           `json:"description,omitempty"`
	Visibility                *watch.Visibility `json:"visibility,omitempty"`
	QueueMode                 *watch.QueueMode  `json:"queueMode,omitempty"`
	Grants                    json.RawMessage   `json:"grants,omitempty"`
	AutoSkipSegmentCategories *[]string         `json:"autoSkipSegmentCategories,omitempty"`
	RestoreQueueBehavior      *int              `json:"restoreQueueBehavior,omitempty"`
	EnableVoteSkip            *bool             `json:"enableVoteSkip,omitempty"`
}

// parseSettings reads a settings object strictly: unknown keys are an
// error.
func parseSettings(b []byte) (*watch.Settings, error) {
	var w wireSettings
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, settingsDecodeErr(err)
	}
	s := &watch.Settings{Title: w.Title, Description: w.Description, Visibility: w.Visibility, QueueMode: w.QueueMode,
		AutoSkip: w.AutoSkipSegmentCategories, Restore: w.RestoreQueueBehavior, VoteSkip: w.EnableVoteSkip}
	if len(w.Grants) > 0 && string(w.Grants) != "null" {
		p, err := watch.ParseGrantPairs(w.Grants)
		if err != nil {
			return nil, watch.BadArgument("grants", fault.Message(err))
		}
		s.Grants = p
	}
	return s, nil
}

// settingsDecodeErr words a settings object that does not decode as
// OTT's strict zod schema does: a value of the wrong type names its field
// ("Expected string, received number" at "title"), an unknown key is
// "Unrecognized key(s) in object: 'k'" at the object itself.
func settingsDecodeErr(err error) error {
	if field, msg, ok := typeMismatch(err); ok {
		return watch.BadArgument(field, msg)
	}
	if k, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		k, _ = strconv.Unquote(k)
		return watch.BadArgument("", "Unrecognized key(s) in object: '"+k+"'")
	}
	return watch.BadArgument("settings", "Expected object")
}

// typeMismatch reads a JSON value of the wrong type as zod words it: the
// field's path and "Expected <type>, received <type>".
func typeMismatch(err error) (field, msg string, ok bool) {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field == "" || te.Type == nil {
		return "", "", false
	}
	received, _, _ := strings.Cut(te.Value, " ") // "number 1e400" → "number"
	if received == "bool" {
		received = "boolean"
	}
	return te.Field, "Expected " + zodType(te.Type) + ", received " + received, true
}

// zodType is zod's name for the JSON type a Go type decodes from.
func zodType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number"
	}
	return t.Kind().String()
}

// grantsRoles is the order in which OTT lists grants: roles 0..4, then
// the owner.
var grantsRoles = [...]watch.Role{watch.RoleUnregistered, watch.RoleRegistered, watch.RoleTrusted, watch.RoleModerator,
	watch.RoleAdministrator, watch.RoleOwner}

// grantsOut is OTT's encoding of its grants Map: [[role, mask], …].
func grantsOut(g watch.Grants) [][2]int64 {
	out := make([][2]int64, 0, len(grantsRoles))
	for _, r := range grantsRoles {
		out = append(out, [2]int64{int64(r), int64(g.Mask(r))})
	}
	return out
}

type wireSegment struct {
	UUID          string  `json:"UUID"`
	Category      string  `json:"category"`
	ActionType    string  `json:"actionType,omitempty"`
	StartTime     float64 `json:"startTime"`
	EndTime       float64 `json:"endTime"`
	VideoDuration float64 `json:"videoDuration"`
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// syncFields maps each sync field to its OTT key and value.
var syncFields = []struct {
	field watch.Fields
	key   string
	value func(*watch.Sync) any
}{
	{watch.FieldName, "name", func(s *watch.Sync) any { return s.Name }},
	{watch.FieldTitle, "title", func(s *watch.Sync) any { return s.Title }},
	{watch.FieldDescription, "description", func(s *watch.Sync) any { return s.Description }},
	{watch.FieldTemporary, "isTemporary", func(s *watch.Sync) any { return s.Temporary }},
	{watch.FieldVisibility, "visibility", func(s *watch.Sync) any { return s.Visibility }},
	{watch.FieldQueueMode, "queueMode", func(s *watch.Sync) any { return s.QueueMode }},
	{watch.FieldCurrent, "currentSource", func(s *watch.Sync) any { return videoOut(s.Current) }},
	{watch.FieldQueue, "queue", func(s *watch.Sync) any { return nonNilSlice(videosOut(s.Queue)) }},
	{watch.FieldPlaying, "isPlaying", func(s *watch.Sync) any { return s.Playing }},
	{watch.FieldPosition, "playbackPosition", func(s *watch.Sync) any { return s.Position }},
	{watch.FieldSpeed, "playbackSpeed", func(s *watch.Sync) any { return s.Speed }},
	{watch.FieldGrants, "grants", func(s *watch.Sync) any { return grantsOut(s.Grants) }},
	{watch.FieldHasOwner, "hasOwner", func(s *watch.Sync) any { return s.HasOwner }},
	{watch.FieldVoteCounts, "voteCounts", func(s *watch.Sync) any {
		vc := make([][2]any, 0, len(s.VoteCounts))
		for _, c := range s.VoteCounts {
			vc = append(vc, [2]any{c.Video, c.Count})
		}
		return vc
	}},
	{watch.FieldSegments, "videoSegments", func(s *watch.Sync) any {
		segs := make([]wireSegment, len(s.Segments))
		for i, sg := range s.Segments {
			segs[i] = wireSegment(sg)
		}
		return segs
	}},
	{watch.FieldAutoSkip, "autoSkipSegmentCategories", func(s *watch.Sync) any { return nonNilSlice(s.AutoSkip) }},
	{watch.FieldPrevQueue, "prevQueue", func(s *watch.Sync) any { return videosOut(s.PrevQueue) }},
	{watch.FieldRestore, "restoreQueueBehavior", func(s *watch.Sync) any { return s.Restore }},
	{watch.FieldVoteSkip, "enableVoteSkip", func(s *watch.Sync) any { return s.VoteSkip }},
	{watch.FieldSkipVotes, "votesToSkip", func(s *watch.Sync) any { return nonNilSlice(s.SkipVotes) }},
}

// syncOut is OTT's sync message for the fields the sync holds, with
// serverTime in milliseconds; keys go out in alphabetical order.
func syncOut(s *watch.Sync) ([]byte, error) {
	m := make(map[string]any, s.Fields.Len()+2)
	m["action"] = "sync"
	for _, sf := range syncFields {
		if s.Fields.Has(sf.field) {
			m[sf.key] = sf.value(s)
		}
	}
	m["serverTime"] = s.ServerTime.UnixMilli()
	return json.Marshal(m)
}

// userUpdateOut is OTT's user-list update.
func userUpdateOut(u *watch.UserUpdate) map[string]any {
	var v any
	switch u.Kind {
	case watch.UsersInit:
		list := make([]wireUserSorted, len(u.Users))
		for i, x := range u.Users {
			list[i] = sortedUser(x)
		}
		v = list
	case watch.UsersRemove:
		v = u.ClientID
	default:
		if u.User != nil {
			v = sortedUser(*u.User)
		}
	}
	return map[string]any{"kind": u.Kind, "value": v}
}
