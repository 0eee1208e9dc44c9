package watch

import (
	"time"
)

// QueueMode decides what happens when the current video ends.
type QueueMode string

// Queue modes.
const (
	QueueManual QueueMode = "manual"
	QueueVote   QueueMode = "vote"
	QueueLoop   QueueMode = "loop"
	QueueDJ     QueueMode = "dj"
)

// Valid reports whether m is a known mode.
func (m QueueMode) Valid() bool {
	return m == QueueManual || m == QueueVote || m == QueueLoop || m == QueueDJ
}

// Visibility decides whether a room is listed.
type Visibility string

// Visibilities.
const (
	Public   Visibility = "public"
	Unlisted Visibility = "unlisted"
	Private  Visibility = "private"
)

// Valid reports whether v is known.
func (v Visibility) Valid() bool { return v == Public || v == Unlisted || v == Private }

// Restore behaviours for a room's previous queue.
const (
	RestoreNever  = 0
	RestorePrompt = 1
	RestoreAlways = 2
)

// SegmentCategories are the SponsorBlock categories, in canonical order.
var SegmentCategories = []string{"sponsor", "intro", "outro", "interaction", "selfpromo", "music_offtopic", "preview"}

// Video is a queue item: a video with its metadata.
type Video struct {
	Service     string
	ID          string
	Title       string
	Description string
	Thumbnail   string
	Length      float64
	Mime        string
	Highlight   bool
	HLSURL      string
	DashURL     string
	SrcURL      string
	SubtitleURL string
	StartAt     *float64
	EndAt       *float64
}

// Key identifies a video in votes: service and id with no separator.
func (v Video) Key() string { return v.Service + v.ID }

// Same reports whether two items are the same video.
func (v Video) Same(o VideoRef) bool { return v.Service == o.Service && v.ID == o.ID }

func (v Video) trimmed() Video {
	v.StartAt, v.EndAt = nil, nil
	return v
}

// VideoRef names a video in a request.
type VideoRef struct {
	Service     string
	ID          string
	SubtitleURL string
}

// RequestType is the kind of a room request; the numbers are
// OpenTogetherTube's RoomRequestType.
type RequestType int

// Request types.
const (
	ReqJoin RequestType = iota
	ReqLeave
	ReqPlayback
	ReqSkip
	ReqSeek
	ReqAdd
	ReqRemove
	ReqOrder
	ReqVote
	ReqPromote
	ReqUpdateUser
	ReqChat
	ReqUndo
	ReqApplySettings
	ReqPlayNow
	ReqShuffle
	ReqPlaybackSpeed
	ReqRestoreQueue
	ReqKick
	ReqUpdateQueueItem
)

// UserUpdateInfo is what an UpdateUser or Join request carries.
type UserUpdateInfo struct {
	ID     string
	Name   string
	Status string
}

// QueueItemUpdate is the change of an UpdateQueueItem request.
type QueueItemUpdate struct {
	SubtitleURL *string
}

// Request is one room request.
type Request struct {
	Type           RequestType
	Info           *UserUpdateInfo
	State          *bool
	Value          *float64
	Video          *VideoRef
	Videos         []VideoRef
	URL            string
	FromIdx        *int
	ToIdx          *int
	Add            *bool
	TargetClientID string
	Role           *Role
	Text           *string
	Event          *EventRecord
	Settings       *Settings
	Speed          *float64
	Discard        *bool
	ClientID       string
	Update         *QueueItemUpdate
	// Ban (Hearth extension on KickRequest) also bars the account.
	Ban *bool
}

// UserInfo is one connection's view of a user in a room.
type UserInfo struct {
	ID         string
	Name       string
	IsLoggedIn bool
	Status     string
	Role       Role
}

// Additional is the extra data of an event record, used for undo.
type Additional struct {
	Video        *Video
	Videos       []Video
	PrevPosition *float64
	QueueIdx     *int
	User         *UserInfo
}

// EventRecord says who did what in a room.
type EventRecord struct {
	Request    Request
	User       UserInfo
	Additional Additional
}

// EventType is the kind of an Event on the bus.
type EventType string

// Event types.
const (
	EvSync         EventType = "sync"
	EvEvent        EventType = "event"
	EvChat         EventType = "chat"
	EvUser         EventType = "user"
	EvYou          EventType = "you"
	EvAnnouncement EventType = "announcement"
	EvCustom       EventType = "custom"
	EvClose        EventType = "close"
)

// CloseReason says why a room's sockets are being closed.
type CloseReason string

// Close reasons.
const (
	CloseKicked   CloseReason = "kicked"
	CloseBanned   CloseReason = "banned"
	CloseUnloaded CloseReason = "unloaded" // keepalive or admin unload: do not come back
	CloseShutdown CloseReason = "shutdown" // the node stops: reconnect
	CloseNormal   CloseReason = "normal"   // a plain close (development routes)
)

// User-list change kinds.
const (
	UsersInit   = "init"   // the whole list, to a newcomer
	UsersUpdate = "update" // one user joined or changed
	UsersRemove = "remove" // one connection left
)

// UserUpdate is a change to a room's user list: the whole list (init),
// one user (update) or the client id of a connection that left (remove).
type UserUpdate struct {
	Kind     string
	User     *UserInfo
	Users    []UserInfo
	ClientID string
}

// Chat is a chat message in a room.
type Chat struct {
	From UserInfo
	Text string
}

// Event is what rooms publish on the bus: on RoomTopic(key) for everyone
// in the room, on ClientTopic(key, client) for one connection.
type Event struct {
	Type     EventType
	Sync     *Sync
	Event    *EventRecord
	Chat     *Chat
	User     *UserUpdate
	You      string
	Text     string
	Duration int
	Close    CloseReason
	Message  string
}

// Topics.
const (
	// AnnouncementTopic carries instance-wide announcements.
	AnnouncementTopic = "watch.announce"
	topicPrefix       = "watch.room."
)

// RoomPattern matches every event of a room (broadcast and per-client).
func RoomPattern(key string) string { return topicPrefix + key + ".>" }

// RoomTopic is a room's broadcast topic.
func RoomTopic(key string) string { return topicPrefix + key + ".all" }

// NodeTopic is the topic of every connection of a room on one node.
func NodeTopic(key, node string) string { return topicPrefix + key + ".n." + node }

// ClientTopic is the topic of one connection in a room.
func ClientTopic(key, clientID string) string { return topicPrefix + key + ".c." + clientID }

// Clock is the server-authoritative playback clock: while playing, the
// position is Base + (now − Since) × Speed.
type Clock struct {
	Base    float64
	Since   time.Time
	Speed   float64
	Playing bool
}

// Position is the live position at now, in seconds.
func (c Clock) Position(now time.Time) float64 {
	if !c.Playing {
		return c.Base
	}
	return c.Base + now.Sub(c.Since).Seconds()*c.speed()
}

func (c Clock) speed() float64 {
	if c.Speed <= 0 {
		return 1
	}
	return c.Speed
}

// Play starts the clock; it is a no-op when already playing.
func (c *Clock) Play(now time.Time) {
	if c.Playing {
		return
	}
	c.Since, c.Playing = now, true
}

// Pause folds the elapsed time into Base; a no-op when paused.
func (c *Clock) Pause(now time.Time) {
	if !c.Playing {
		return
	}
	c.Base, c.Playing = c.Position(now), false
}

// Seek moves to pos, keeping the play state.
func (c *Clock) Seek(pos float64, now time.Time) { c.Base, c.Since = pos, now }

// SetSpeed folds the position, then changes the speed.
func (c *Clock) SetSpeed(speed float64, now time.Time) {
	c.Base, c.Since, c.Speed = c.Position(now), now, speed
}

// updated is the user-list change for one user.
func updated(u UserInfo) *UserUpdate { return &UserUpdate{Kind: UsersUpdate, User: &u} }
