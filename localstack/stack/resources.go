package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/jackc/pgx/v5"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// localShards is each Kinesis stream's shard count. AWS streams are on-demand
// (four shards to start); two shards are enough to exercise per-shard pollers
// and per-symbol ordering without four pollers idling on a laptop.
const localShards = 2

// databaseName is the read models' database in the local cluster.
const databaseName = "tracker"

// createTables creates every table of the topology (an existing one is kept) and
// returns the stream ARN of each table that has a stream.
func createTables(ctx context.Context, db *dynamodb.Client, prefix string) (map[string]string, error) {
	streams := map[string]string{}
	for _, t := range topology.Tables() {
		name := topology.PhysicalName(prefix, t.Name)
		if err := dynamo.CreateTable(ctx, db, t, name); err != nil {
			return nil, err
		}
		if t.Stream == topology.NoStream {
			continue
		}
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return nil, fmt.Errorf("describe table %s: %w", name, err)
		}
		if out.Table.LatestStreamArn == nil {
			return nil, fmt.Errorf("table %s has no stream", name)
		}
		streams[t.Name] = *out.Table.LatestStreamArn
	}
	return streams, nil
}

// createStreams creates every Kinesis stream of the topology that does not exist
// yet and waits until each is active.
func createStreams(ctx context.Context, kc *kinesis.Client, prefix string) error {
	for _, s := range topology.KinesisStreams() {
		name := topology.PhysicalName(prefix, s.Name)
		_, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(localShards),
			StreamModeDetails: &kintypes.StreamModeDetails{StreamMode: kintypes.StreamModeProvisioned}})
		var inUse *kintypes.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return fmt.Errorf("create stream %s: %w", name, err)
		}
		if err := kinesis.NewStreamExistsWaiter(kc, func(o *kinesis.StreamExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 50*time.Millisecond, time.Second
		}).Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, time.Minute); err != nil {
			return fmt.Errorf("wait for stream %s: %w", name, err)
		}
	}
	return nil
}

// apiLoginRole is the login role of the api and ws functions in the local
// cluster (readmodel.EnsureAPILogin): as on AWS, they connect as a role that
// may only become the caller.
const apiLoginRole = "pt_local_api"

// database is what prepareDatabase hands the functions: the owner's DSN (the
// internal functions) and the API login's (api, ws).
type database struct {
	ownerDSN, apiDSN string
	applied          []int
}

// prepareDatabase creates the read models' database if needed, applies the
// migrations and ensures the API's login role (a fresh password on every start:
// the local cluster trusts loopback connections, so nothing else needs it). The
// migrate function would do the same when invoked after deployment; doing it
// here means every other function finds its schema on its first invocation.
func prepareDatabase(ctx context.Context, adminDSN string) (database, error) {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return database{}, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	var exists bool
	err = conn.QueryRow(ctx, "select exists (select 1 from pg_database where datname = $1)", databaseName).Scan(&exists)
	if err == nil && !exists {
		_, err = conn.Exec(ctx, "create database "+databaseName)
	}
	_ = conn.Close(ctx)
	if err != nil {
		return database{}, fmt.Errorf("create database %s: %w", databaseName, err)
	}
	dsn := strings.Replace(adminDSN, "/postgres?", "/"+databaseName+"?", 1)
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return database{}, fmt.Errorf("connect to %s: %w", databaseName, err)
	}
	defer db.Close(context.Background())
	applied, err := readmodel.Migrate(ctx, db)
	if err != nil {
		return database{}, fmt.Errorf("migrate: %w", err)
	}
	password := make([]byte, 16)
	if _, err := rand.Read(password); err != nil {
		return database{}, err
	}
	login := readmodel.APILogin{Role: apiLoginRole, Password: hex.EncodeToString(password)}
	if err := readmodel.EnsureAPILogin(ctx, db, login); err != nil {
		return database{}, err
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return database{}, fmt.Errorf("database URL: %w", err)
	}
	u.User = url.UserPassword(login.Role, login.Password)
	return database{ownerDSN: dsn, apiDSN: u.String(), applied: applied}, nil
}
