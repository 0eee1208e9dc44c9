package voice

import "time"

// VoiceState is an account's presence in a channel's call (Together's
// voice state), shared by every node through the store. An account is in
// one call at most.
type VoiceState struct {
	UserID      string
	ChannelID   string
	CommunityID string
	Username    string
	SelfMute    bool
	SelfDeaf    bool
	SelfVideo   bool
	SelfScreen  bool
	ServerMute  bool
	ServerDeaf  bool
	JoinedAt    time.Time
}
