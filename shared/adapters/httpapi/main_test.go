package httpapi_test

import (
	"testing"

	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
