package pgstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed schema.sql
var schemaSQL string

// names are the database objects of one schema and prefix.
type names struct {
	// Tables, schema-qualified when a schema is given.
	revoked, subjects, log, head, devices string
	// seq is the log's bigserial sequence, as nextval takes it.
	seq string
	// channel is the NOTIFY channel: "[schema.]prefix" + "log".
	channel string
}

func (c config) names() names {
	q := ""
	if c.schema != "" {
		q = c.schema + "."
	}
	t := func(name string) string { return q + c.prefix + name }
	return names{
		revoked:  t("revoked"),
		subjects: t("subjects"),
		log:      t("log"),
		head:     t("log_head"),
		devices:  t("devices"),
		seq:      t("log_pos_seq"),
		channel:  t("log"),
	}
}

// migrateLock is the advisory lock Migrate holds while it makes tables.
var migrateLock = lockKey("github.com/authix-go/authix/pgstore Migrate")

// lockKey returns an advisory lock key for name.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// ddl returns schema.sql for cfg's names.
func (c config) ddl() string {
	n := c.names()
	create := ""
	if c.schema != "" {
		create = "CREATE SCHEMA IF NOT EXISTS " + c.schema + ";"
	}
	return strings.NewReplacer(
		"{migrate_lock}", strconv.FormatInt(migrateLock, 10),
		"{create_schema}", create,
		"{revoked}", n.revoked,
		"{subjects}", n.subjects,
		"{log}", n.log,
		"{head}", n.head,
		"{devices}", n.devices,
		"{p}", c.prefix,
	).Replace(schemaSQL)
}

// Migrate makes the tables a Store needs, in one transaction, unless they
// all exist already: WithSchema and WithTablePrefix name them, and other
// options are checked but play no part. It is idempotent and safe to run
// from every replica at start, concurrently too (the DDL waits on an
// advisory lock). Making the tables needs CREATE on the schema (and on the
// database, to create a schema that WithSchema names); once they exist,
// Migrate only reads the catalog, so a role with the Store's privileges
// alone may run it (see the package documentation, "Privileges"). It
// returns an error wrapping ErrInvalidOption for a bad option and one
// wrapping ErrUnavailable when the DDL fails. pool may reach PostgreSQL
// through PgBouncer in transaction pooling mode.
func Migrate(ctx context.Context, pool *pgxpool.Pool, opts ...Option) error {
	if pool == nil {
		return fmt.Errorf("%w: Migrate: pool is nil", ErrInvalidOption)
	}
	cfg, err := apply(opts)
	if err != nil {
		return err
	}
	n := cfg.names()
	var present bool
	err = pool.QueryRow(ctx, `SELECT to_regclass($1::text) IS NOT NULL AND to_regclass($2::text) IS NOT NULL
		AND to_regclass($3::text) IS NOT NULL AND to_regclass($4::text) IS NOT NULL AND to_regclass($5::text) IS NOT NULL`,
		n.revoked, n.subjects, n.log, n.head, n.devices).Scan(&present)
	if err == nil && present {
		return nil
	}
	// A schema that does not exist, or one this role may not use, is
	// made (or refused) by the DDL below.
	var pgErr *pgconn.PgError
	if err != nil && !(errors.As(err, &pgErr) && (pgErr.Code == "3F000" || pgErr.Code == "42501")) {
		return fmt.Errorf("%w: Migrate: look for the tables: %w", ErrUnavailable, err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, cfg.ddl())
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: Migrate: make the tables %s*: %w", ErrUnavailable, strings.TrimSuffix(n.revoked, "revoked"), err)
	}
	return nil
}
