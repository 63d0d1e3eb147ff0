package readyourwrites_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/app/readyourwrites"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// readModel answers the versions in turn (the last one thereafter); found is
// false for a version 0. It runs onRead after each reading.
type readModel struct {
	versions []int64
	reads    int
	onRead   func()
}

func (r *readModel) PortfolioVersion(context.Context, string, string) (int64, bool, error) {
	v := r.versions[min(r.reads, len(r.versions)-1)]
	r.reads++
	if r.onRead != nil {
		r.onRead()
	}
	return v, v > 0, nil
}

type owners map[string]string

func (o owners) PortfolioOwner(_ context.Context, id string) (string, int64, error) {
	if owner, ok := o[id]; ok {
		return owner, 1, nil
	}
	return "", 0, nil
}

// patient waits as long as a test needs, polling at once.
var patient = readyourwrites.Options{MaxWait: time.Hour, FirstPoll: time.Nanosecond, MaxPoll: time.Nanosecond}

func TestAwaitPollsUntilTheVersion(t *testing.T) {
	reads := &readModel{versions: []int64{0, 1, 3}}
	res, err := readyourwrites.New(reads, owners{"p": "alice"}, patient).Await(context.Background(), "alice", "p", 2)
	if err != nil || res.Stale() || res.Version != 3 || !res.InReadModel || reads.reads != 3 {
		t.Fatalf("Await = %+v, %v after %d reads", res, err, reads.reads)
	}
}

func TestAwaitAnswersAtOnceWhenFresh(t *testing.T) {
	reads := &readModel{versions: []int64{5}}
	res, err := readyourwrites.New(reads, nil, patient).Await(context.Background(), "alice", "p", 0)
	if err != nil || res.Stale() || res.Version != 5 || reads.reads != 1 {
		t.Fatalf("Await = %+v, %v after %d reads", res, err, reads.reads)
	}
}

func TestAwaitHidesWhatIsNotTheCallers(t *testing.T) {
	svc := readyourwrites.New(&readModel{versions: []int64{0}}, owners{"p": "bob"}, patient)
	for _, id := range []string{"p", "nobody's"} {
		if _, err := svc.Await(context.Background(), "alice", id, 0); !errors.Is(err, portfolio.ErrNotFound) {
			t.Fatalf("%s: %v, want not found", id, err)
		}
	}
	if _, err := readyourwrites.New(&readModel{versions: []int64{0}}, nil, patient).Await(context.Background(), "alice", "p", 0); !errors.Is(err, portfolio.ErrNotFound) {
		t.Fatalf("without an event store: %v, want not found", err)
	}
}

func TestAwaitStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	reads := &readModel{versions: []int64{1}, onRead: cancel}
	res, err := readyourwrites.New(reads, nil, patient).Await(ctx, "alice", "p", 2)
	if !errors.Is(err, context.Canceled) || res.Version != 1 {
		t.Fatalf("Await = %+v, %v; want the reading so far and context.Canceled", res, err)
	}
}

func TestAwaitGivesUpStale(t *testing.T) {
	reads := &readModel{versions: []int64{0}}
	res, err := readyourwrites.New(reads, owners{"p": "alice"}, readyourwrites.Options{MaxWait: time.Nanosecond}).Await(context.Background(), "alice", "p", 0)
	if err != nil || !res.Stale() || res.InReadModel {
		t.Fatalf("Await = %+v, %v; want stale, not in the read model", res, err)
	}
}
