// Package wsconn keeps the live WebSocket connections of the API Gateway
// WebSocket API in the DynamoDB connections table (topology.ConnectionsTable):
// who owns each connection and what it subscribed to.
//
// Item layout (one item per connection):
//
//	connectionId  S   partition key; API Gateway's connection ID
//	userId        S   the user the $connect authorizer granted; GSI byUser (keys only)
//	connectedAt   S   RFC 3339, UTC
//	expiresAt     N   epoch seconds, connectedAt + 2 h (API Gateway's maximum): the table's TTL attribute
//	portfolios    SS  subscribed portfolio IDs (absent when none: DynamoDB has no empty sets)
//	symbols       SS  subscribed symbols (absent when none)
//
// Each user with connections also has one slot item, which holds the quota.ConnectionsPerUser
// bound exactly:
//
//	connectionId  S   "user#" + the user ID (no API Gateway connection ID has a '#')
//	ids           SS  the user's connection IDs
//	expiresAt     N   the newest connection's expiry: the item outlives every connection it lists
//
// It has no userId attribute, so it is in no index and no fan-out sees it.
//
// Access patterns:
//
//   - $connect puts the item and adds its ID to the user's slot item in one transaction,
//     conditional on the slot holding fewer than the quota; $disconnect deletes the item and
//     then the ID; the WebSocket function reads the item by connection ID on every later
//     message (the user is never taken from the message).
//   - Subscriptions change with UpdateItem ADD / DELETE on the string sets, guarded by
//     attribute_exists(connectionId) (an update never resurrects a closed connection) and by
//     the set's previous size (optimistic concurrency), which keeps the per-connection
//     bounds (MaxPortfolios, MaxSymbols) exact under concurrent messages.
//   - Fan-out is per user: the producers (prices, valuations, alerts) know the owners' user
//     IDs, so ConnectionIDsByUser queries the byUser GSI (keys only: one cheap query per user,
//     no item reads) and push.Pusher posts to every ID. A producer fanning out to thousands
//     of users a second (prices), most of them offline, first narrows them to
//     ConnectedUsers (a scan of the keys-only GSI, refreshed every second or so). A consumer that must honour
//     subscriptions calls ConnectionsByUser (the GSI, then a BatchGetItem of the items) and
//     filters in Go with Connection.SubscribedToPortfolio / SubscribedToSymbol. A user has a
//     handful of connections, so the filter is cheap; there is no index by portfolio or
//     symbol here (a set attribute cannot be a key). The users watching a symbol they do
//     not hold are found in the read models' symbol_watchers, which the ws function
//     keeps beside this table (readmodel.WatchSymbols).
//
// The GSI is eventually consistent: a connection made a few hundred milliseconds ago may be
// missing from a fan-out, and one closed a moment ago may still be listed (its post then
// answers 410 Gone and the pusher deletes it). TTL deletion is lazy (it can lag by days), so
// Get treats an item past expiresAt as absent.
package wsconn

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/portfoliotracker/tracker/shared/domain/quota"
	"github.com/portfoliotracker/tracker/shared/platform/retry"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// Bounds of one connection.
const (
	MaxLifetime      = 2 * time.Hour // API Gateway's maximum connection duration
	MaxPortfolioIDLn = 128           // bytes of one portfolio ID
	MaxSymbolLen     = 32            // bytes of one symbol, as in shared/domain/portfolio
)

// Subscriptions per connection (shared/domain/quota).
var (
	MaxPortfolios = quota.SubscribedPortfoliosPerConnection.Limit
	MaxSymbols    = quota.SubscribedSymbolsPerConnection.Limit
)

// Attribute names.
const (
	AttrConnectionID = "connectionId"
	AttrUserID       = "userId"
	AttrConnectedAt  = "connectedAt"
	AttrExpiresAt    = topology.AttrTTL
	AttrPortfolios   = "portfolios"
	AttrSymbols      = "symbols"
	AttrSlotIDs      = "ids" // of a user's slot item
	IndexByUser      = topology.ConnectionsByUserIndex
)

// slotPrefix starts the key of a user's slot item.
const slotPrefix = "user#"

var (
	// ErrNotFound: no such connection (never stored, deleted, or expired).
	ErrNotFound = errors.New("wsconn: connection not found")
	// ErrInvalid: an empty or malformed ID, user, portfolio ID or symbol.
	ErrInvalid = errors.New("wsconn: invalid argument")
)

// LimitError is returned when a subscription would exceed MaxPortfolios or MaxSymbols.
type LimitError struct {
	Kind  string // "portfolios" or "symbols"
	Limit int
	Would int // the set's size had the subscription been applied
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("wsconn: at most %d %s per connection (would be %d)", e.Limit, e.Kind, e.Would)
}

// Connection is one stored connection.
type Connection struct {
	ID          string
	UserID      string
	ConnectedAt time.Time
	ExpiresAt   time.Time
	Portfolios  []string // sorted
	Symbols     []string // sorted
}

// SubscribedToPortfolio reports whether the connection subscribed to the portfolio.
func (c Connection) SubscribedToPortfolio(id string) bool {
	_, ok := slices.BinarySearch(c.Portfolios, id)
	return ok
}

// SubscribedToSymbol reports whether the connection subscribed to the symbol.
func (c Connection) SubscribedToSymbol(symbol string) bool {
	_, ok := slices.BinarySearch(c.Symbols, symbol)
	return ok
}

// DynamoDB is the part of the DynamoDB client the store uses.
type DynamoDB interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store reads and writes the connections table.
type Store struct {
	db         DynamoDB
	table      string
	now        func() time.Time
	maxPerUser int
}

// Options tunes New.
type Options struct {
	Now func() time.Time // default time.Now
	// MaxPerUser bounds a user's connections; default quota.ConnectionsPerUser.
	MaxPerUser int
}

// New returns a store on the table (physical name).
func New(db DynamoDB, table string, opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxPerUser <= 0 {
		opts.MaxPerUser = quota.ConnectionsPerUser.Limit
	}
	return &Store{db: db, table: table, now: opts.Now, maxPerUser: opts.MaxPerUser}
}

// maxPutAttempts bounds the transactions of one Put that lose a race for the
// user's slot item (TransactionConflict), or find it full with stale IDs in it.
const maxPutAttempts = 8

// Put records a new connection of the user, with no subscriptions, expiring MaxLifetime from
// now. A repeated $connect for the same ID (a Lambda retry) overwrites it. The connection and
// its ID in the user's slot item are written in one transaction, conditional on the slot
// holding fewer than MaxPerUser IDs (or this one), so parallel connects never pass the bound.
// A full slot is first cleared of the IDs whose connection is gone (deleted, expired); if it
// is still full, Put returns *quota.ExceededError.
func (s *Store) Put(ctx context.Context, connectionID, userID string) (Connection, error) {
	if !validID(connectionID, 256) || !validID(userID, 256) {
		return Connection{}, fmt.Errorf("%w: connection %q of user %q", ErrInvalid, connectionID, userID)
	}
	now := s.now().UTC().Truncate(time.Second)
	c := Connection{ID: connectionID, UserID: userID, ConnectedAt: now, ExpiresAt: now.Add(MaxLifetime)}
	expires := &types.AttributeValueMemberN{Value: strconv.FormatInt(c.ExpiresAt.Unix(), 10)}
	in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: aws.String(s.table),
			Item: map[string]types.AttributeValue{
				AttrConnectionID: &types.AttributeValueMemberS{Value: connectionID},
				AttrUserID:       &types.AttributeValueMemberS{Value: userID},
				AttrConnectedAt:  &types.AttributeValueMemberS{Value: now.Format(time.RFC3339)},
				AttrExpiresAt:    expires,
			},
		}},
		{Update: &types.Update{
			TableName:                           aws.String(s.table),
			Key:                                 key(slotPrefix + userID),
			UpdateExpression:                    aws.String("ADD #ids :id SET #exp = :exp"),
			ConditionExpression:                 aws.String("attribute_not_exists(#ids) OR size(#ids) < :max OR contains(#ids, :one)"),
			ExpressionAttributeNames:            map[string]string{"#ids": AttrSlotIDs, "#exp": AttrExpiresAt},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":id":  &types.AttributeValueMemberSS{Value: []string{connectionID}},
				":one": &types.AttributeValueMemberS{Value: connectionID},
				":max": &types.AttributeValueMemberN{Value: strconv.Itoa(s.maxPerUser)},
				":exp": expires,
			},
		}},
	}}
	pruned := false
	for attempt := 1; ; attempt++ {
		_, err := s.db.TransactWriteItems(ctx, in)
		if err == nil {
			return c, nil
		}
		var canceled *types.TransactionCanceledException
		if !errors.As(err, &canceled) || len(canceled.CancellationReasons) != 2 || attempt >= maxPutAttempts {
			return Connection{}, fmt.Errorf("wsconn: put %s: %w", connectionID, err)
		}
		slot := canceled.CancellationReasons[1]
		switch aws.ToString(slot.Code) {
		case "ConditionalCheckFailed":
			if pruned {
				return Connection{}, quota.Exceeded(quota.ConnectionsPerUser, len(slotIDs(slot.Item))+1)
			}
			// Once per Put: the IDs of connections that are gone make room.
			if err := s.pruneSlot(ctx, userID, slotIDs(slot.Item)); err != nil {
				return Connection{}, err
			}
			pruned = true
		case "TransactionConflict":
			// Another connect or disconnect of the user in flight: wait, retry.
			if err := retry.Sleep(ctx, time.Duration(1+rand.IntN(10<<min(attempt, 4)))*time.Millisecond); err != nil {
				return Connection{}, err
			}
		default:
			return Connection{}, fmt.Errorf("wsconn: put %s: %w", connectionID, err)
		}
	}
}

// slotIDs reads the connection IDs of a slot item.
func slotIDs(item map[string]types.AttributeValue) []string {
	if v, ok := item[AttrSlotIDs].(*types.AttributeValueMemberSS); ok {
		return v.Value
	}
	return nil
}

// pruneSlot removes from the user's slot item the IDs among ids whose connection
// item is gone (deleted by $disconnect or after a 410 whose slot update failed,
// removed by TTL) or expired, or another user's.
func (s *Store) pruneSlot(ctx context.Context, userID string, ids []string) error {
	live, err := s.items(ctx, ids)
	if err != nil {
		return err
	}
	now := s.now()
	var stale []string
	for _, id := range ids {
		c, ok := live[id]
		if !ok || c.UserID != userID || !now.Before(c.ExpiresAt) {
			stale = append(stale, id)
		}
	}
	return s.removeFromSlot(ctx, userID, stale)
}

// removeFromSlot deletes ids from the user's slot item, if it exists.
func (s *Store) removeFromSlot(ctx context.Context, userID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(slotPrefix + userID),
		UpdateExpression:          aws.String("DELETE #ids :ids"),
		ConditionExpression:       aws.String("attribute_exists(#ids)"), // never create a slot
		ExpressionAttributeNames:  map[string]string{"#ids": AttrSlotIDs},
		ExpressionAttributeValues: map[string]types.AttributeValue{":ids": &types.AttributeValueMemberSS{Value: ids}},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("wsconn: free the slots of %d connections of %s: %w", len(ids), userID, err)
	}
	return nil
}

// Get returns the connection, or ErrNotFound (also for one past its expiry that TTL has not
// removed yet). It reads strongly consistently: the message may follow $connect closely.
func (s *Store) Get(ctx context.Context, connectionID string) (Connection, error) {
	if !validID(connectionID, 256) || strings.HasPrefix(connectionID, slotPrefix) {
		return Connection{}, ErrNotFound
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(connectionID),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Connection{}, fmt.Errorf("wsconn: get %s: %w", connectionID, err)
	}
	if out.Item == nil {
		return Connection{}, ErrNotFound
	}
	c, err := decode(out.Item)
	if err != nil {
		return Connection{}, err
	}
	if !s.now().Before(c.ExpiresAt) {
		return Connection{}, ErrNotFound
	}
	return c, nil
}

// Delete removes the connection, then its ID from its user's slot item (if that
// fails, the next connect that finds the slot full removes it); deleting one that
// is not there is not an error.
func (s *Store) Delete(ctx context.Context, connectionID string) error {
	if !validID(connectionID, 256) || strings.HasPrefix(connectionID, slotPrefix) {
		return nil
	}
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key(connectionID), ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		return fmt.Errorf("wsconn: delete %s: %w", connectionID, err)
	}
	if u, ok := out.Attributes[AttrUserID].(*types.AttributeValueMemberS); ok {
		return s.removeFromSlot(ctx, u.Value, []string{connectionID})
	}
	return nil
}

// items reads connection items by ID (BatchGetItem, strongly consistent); absent
// ones are left out.
func (s *Store) items(ctx context.Context, ids []string) (map[string]Connection, error) {
	out := make(map[string]Connection, len(ids))
	for chunk := range slices.Chunk(ids, 100) { // BatchGetItem's limit
		keys := make([]map[string]types.AttributeValue, len(chunk))
		for i, id := range chunk {
			keys[i] = key(id)
		}
		req := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt > 0 {
				if err := retry.Sleep(ctx, time.Duration(1<<min(attempt, 6))*10*time.Millisecond); err != nil {
					return nil, err
				}
			}
			res, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("wsconn: read %d connections: %w", len(chunk), err)
			}
			for _, it := range res.Responses[s.table] {
				c, err := decode(it)
				if err != nil {
					return nil, err
				}
				out[c.ID] = c
			}
			req = res.UnprocessedKeys
		}
	}
	return out, nil
}

// ConnectionIDsByUser lists the user's connection IDs through the byUser GSI (eventually
// consistent; may include connections expired but not yet removed by TTL).
func (s *Store) ConnectionIDsByUser(ctx context.Context, userID string) ([]string, error) {
	if !validID(userID, 256) {
		return nil, nil
	}
	var ids []string
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IndexByUser),
		KeyConditionExpression:    aws.String("#u = :u"),
		ExpressionAttributeNames:  map[string]string{"#u": AttrUserID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: userID}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("wsconn: connections of %s: %w", userID, err)
		}
		for _, it := range page.Items {
			if v, ok := it[AttrConnectionID].(*types.AttributeValueMemberS); ok {
				ids = append(ids, v.Value)
			}
		}
	}
	return ids, nil
}

// ConnectedUsers returns the users with at least one connection, from a scan of the
// byUser GSI (keys only: some 100 bytes a connection, one request per MB). It is
// eventually consistent like the index, and may list users whose connections expired
// but are not yet removed by TTL. A producer that fans out to many users, most of
// them offline, reads it once for many fan-outs instead of querying every user.
func (s *Store) ConnectedUsers(ctx context.Context) (map[string]struct{}, error) {
	users := map[string]struct{}{}
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{
		TableName:                aws.String(s.table),
		IndexName:                aws.String(IndexByUser),
		ProjectionExpression:     aws.String("#u"),
		ExpressionAttributeNames: map[string]string{"#u": AttrUserID},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("wsconn: connected users: %w", err)
		}
		for _, it := range page.Items {
			if v, ok := it[AttrUserID].(*types.AttributeValueMemberS); ok {
				users[v.Value] = struct{}{}
			}
		}
	}
	return users, nil
}

// ConnectionsByUser returns the user's live connections with their subscriptions: the GSI
// query, then the items (BatchGetItem, strongly consistent), without expired ones, sorted by ID.
func (s *Store) ConnectionsByUser(ctx context.Context, userID string) ([]Connection, error) {
	ids, err := s.ConnectionIDsByUser(ctx, userID)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	items, err := s.items(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("wsconn: connections of %s: %w", userID, err)
	}
	now := s.now()
	var conns []Connection
	for _, c := range items {
		if c.UserID == userID && now.Before(c.ExpiresAt) {
			conns = append(conns, c)
		}
	}
	slices.SortFunc(conns, func(a, b Connection) int { return strings.Compare(a.ID, b.ID) })
	return conns, nil
}

// Subscribe adds portfolio IDs and symbols to the connection's subscriptions (already present
// ones are kept once) and returns the connection as it now is. It fails with ErrNotFound for a
// connection that is gone, ErrInvalid for a malformed ID or symbol, and *LimitError if a set
// would exceed its bound.
func (s *Store) Subscribe(ctx context.Context, connectionID string, portfolioIDs, symbols []string) (Connection, error) {
	return s.change(ctx, connectionID, portfolioIDs, symbols, true)
}

// Unsubscribe removes portfolio IDs and symbols from the subscriptions (absent ones are
// ignored) and returns the connection as it now is.
func (s *Store) Unsubscribe(ctx context.Context, connectionID string, portfolioIDs, symbols []string) (Connection, error) {
	return s.change(ctx, connectionID, portfolioIDs, symbols, false)
}

// ValidatePortfolioIDs checks portfolio IDs as Subscribe does, returning them sorted and
// deduplicated.
func ValidatePortfolioIDs(ids []string) ([]string, error) {
	return normalise(ids, MaxPortfolioIDLn, MaxPortfolios, "portfolios")
}

// ValidateSymbols checks symbols as Subscribe does, returning them sorted and deduplicated.
func ValidateSymbols(symbols []string) ([]string, error) {
	return normalise(symbols, MaxSymbolLen, MaxSymbols, "symbols")
}

func normalise(in []string, maxLen, maxCount int, kind string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, v := range in {
		if !validID(v, maxLen) {
			return nil, fmt.Errorf("%w: %s entry %q (1 to %d printable characters, no spaces)", ErrInvalid, kind, v, maxLen)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxCount {
		return nil, &LimitError{Kind: kind, Limit: maxCount, Would: len(out)}
	}
	return out, nil
}

// maxUpdateAttempts bounds the optimistic-concurrency retries of one subscription change.
const maxUpdateAttempts = 5

func (s *Store) change(ctx context.Context, connectionID string, portfolioIDs, symbols []string, add bool) (Connection, error) {
	pids, err := ValidatePortfolioIDs(portfolioIDs)
	if err != nil {
		return Connection{}, err
	}
	syms, err := ValidateSymbols(symbols)
	if err != nil {
		return Connection{}, err
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.Get(ctx, connectionID)
		if err != nil {
			return Connection{}, err
		}
		if len(pids) == 0 && len(syms) == 0 {
			return cur, nil
		}
		var (
			op     = "DELETE"
			names  = map[string]string{"#id": AttrConnectionID}
			values = map[string]types.AttributeValue{}
			conds  = []string{"attribute_exists(#id)"}
			parts  []string
		)
		if add {
			op = "ADD"
		}
		for _, set := range []struct {
			attr, ph string
			cur, new []string
			limit    int
		}{{AttrPortfolios, "p", cur.Portfolios, pids, MaxPortfolios}, {AttrSymbols, "s", cur.Symbols, syms, MaxSymbols}} {
			if len(set.new) == 0 {
				continue
			}
			if add {
				if n := len(union(set.cur, set.new)); n > set.limit {
					return Connection{}, &LimitError{Kind: set.attr, Limit: set.limit, Would: n}
				}
			}
			names["#"+set.ph] = set.attr
			values[":"+set.ph] = &types.AttributeValueMemberSS{Value: set.new}
			parts = append(parts, "#"+set.ph+" :"+set.ph)
			// The set must still be the one the bound was checked against.
			if len(set.cur) == 0 {
				conds = append(conds, "attribute_not_exists(#"+set.ph+")")
			} else {
				values[":n"+set.ph] = &types.AttributeValueMemberN{Value: strconv.Itoa(len(set.cur))}
				conds = append(conds, "size(#"+set.ph+") = :n"+set.ph)
			}
		}
		out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       key(connectionID),
			UpdateExpression:          aws.String(op + " " + strings.Join(parts, ", ")),
			ConditionExpression:       aws.String(strings.Join(conds, " AND ")),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
			ReturnValues:              types.ReturnValueAllNew,
		})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) && attempt+1 < maxUpdateAttempts {
			continue // a concurrent change (or a delete: the next Get says so)
		}
		if err != nil {
			return Connection{}, fmt.Errorf("wsconn: update subscriptions of %s: %w", connectionID, err)
		}
		return decode(out.Attributes)
	}
}

func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

func key(connectionID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrConnectionID: &types.AttributeValueMemberS{Value: connectionID}}
}

func decode(item map[string]types.AttributeValue) (Connection, error) {
	var c Connection
	str := func(name string) string {
		if v, ok := item[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	set := func(name string) []string {
		v, ok := item[name].(*types.AttributeValueMemberSS)
		if !ok {
			return nil
		}
		out := slices.Clone(v.Value)
		slices.Sort(out)
		return out
	}
	c.ID, c.UserID = str(AttrConnectionID), str(AttrUserID)
	if c.ID == "" || c.UserID == "" {
		return Connection{}, fmt.Errorf("wsconn: malformed item %q: no connection or user ID", c.ID)
	}
	if at := str(AttrConnectedAt); at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return Connection{}, fmt.Errorf("wsconn: item %s: connectedAt: %w", c.ID, err)
		}
		c.ConnectedAt = t
	}
	if v, ok := item[AttrExpiresAt].(*types.AttributeValueMemberN); ok {
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return Connection{}, fmt.Errorf("wsconn: item %s: expiresAt: %w", c.ID, err)
		}
		c.ExpiresAt = time.Unix(n, 0).UTC()
	}
	c.Portfolios, c.Symbols = set(AttrPortfolios), set(AttrSymbols)
	return c, nil
}

// validID: 1 to maxLen bytes of printable, non-space characters.
func validID(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for _, r := range s {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}
