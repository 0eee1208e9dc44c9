package stagechat

import (
	"crypto/rand"
	"math/big"
)

var adjectives = []string{"awesome", "brave", "calm", "clever", "curious", "eager", "gentle", "happy", "jolly",
	"kind", "lively", "lucky", "merry", "nimble", "proud", "quiet", "quick", "sunny", "witty", "zealous"}

var scientists = []string{"aryabhata", "bohr", "curie", "darwin", "einstein", "franklin", "galileo", "hopper",
	"hypatia", "kepler", "lovelace", "meitner", "newton", "noether", "pasteur", "ramanujan", "sagan", "tesla",
	"turing", "wu"}

func randIndex(n int) int {
	if n <= 1 {
		return 0
	}
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0
	}
	return int(v.Int64())
}

// phrase returns an adjective-scientist name like "awesome-aryabhata".
func phrase() string {
	return adjectives[randIndex(len(adjectives))] + "-" + scientists[randIndex(len(scientists))]
}
