package marketdata

import (
	"sync"
	"time"
	_ "time/tzdata" // Lambda's provided.al2023 image has no zoneinfo; embed it (~450 KB).
)

var newYork = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		// Unreachable with time/tzdata embedded.
		panic("marketdata: America/New_York: " + err.Error())
	}
	return loc
})
