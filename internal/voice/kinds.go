package voice

import "github.com/hearth-community/hearth/internal/community"

// CallChannel reports whether a channel of this kind holds a call: voice
// channels, stage channels, and watch channels, whose call is the people
// watching together on camera beside the room's player. The permissions
// are the same in all three: CONNECT_VOICE to join, SPEAK to send audio
// and video, MUTE_MEMBERS to mute or disconnect others.
func CallChannel(kind string) bool {
	switch kind {
	case community.KindVoice, community.KindStage, community.KindWatch:
		return true
	}
	return false
}
