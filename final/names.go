// Random container names, adjective_noun, as Docker gives them.

package main

import (
	"math/rand/v2"
	"strconv"
)

// adjectives and nouns make names like "brave_turing".
var (
	adjectives = []string{"agile", "bold", "brave", "calm", "clever", "eager", "fancy", "gentle", "happy", "jolly",
		"keen", "kind", "lucid", "merry", "nimble", "noble", "patient", "proud", "quiet", "quick", "sharp",
		"shy", "sleepy", "smart", "steady", "sunny", "swift", "tender", "vivid", "witty", "wise", "zen"}
	nouns = []string{"babbage", "bell", "curie", "darwin", "dijkstra", "einstein", "euler", "faraday", "feynman",
		"gauss", "hopper", "hypatia", "kepler", "knuth", "lamport", "liskov", "lovelace", "mccarthy", "newton",
		"noether", "pascal", "ritchie", "shannon", "tesla", "thompson", "torvalds", "turing", "wozniak"}
)

// randomName returns adjective_noun; the caller retries while it is
// taken, counting its tries. There are only 896 such names, so from the
// tenth try on a number follows, as Docker adds one: a host with a
// thousand containers still finds a free name.
func randomName(try int) string {
	name := adjectives[rand.IntN(len(adjectives))] + "_" + nouns[rand.IntN(len(nouns))]
	if try >= 10 {
		name += strconv.Itoa(rand.IntN(1000 * try))
	}
	return name
}
