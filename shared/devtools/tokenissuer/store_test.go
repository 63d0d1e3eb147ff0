package tokenissuer_test

import (
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer"
	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer/storetest"
)

func TestMemStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) tokenissuer.Store { return tokenissuer.NewMemStore() })
}

// The local stack's store: auth.users and auth.refresh_tokens as migration
// 0020 makes them on a cluster that is not Supabase's.
func TestPGStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tokenissuer.Store {
		pool, _ := rmtest.DB(t)
		return tokenissuer.NewPGStore(pool)
	})
}
