package market

import (
	"sync"
	"time"
	_ "time/tzdata" // Lambda's provided.al2023 image has no zoneinfo; embed it (~450 KB).
)

// NewYork is the US exchanges' time zone: it decides a tick's exchange day and a
// session's close.
var NewYork = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		// Unreachable with time/tzdata embedded.
		panic("market: America/New_York: " + err.Error())
	}
	return loc
})
