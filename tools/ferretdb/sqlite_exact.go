//go:build ignore

// A patch, not part of our program (hence the build tag): tools/embedded_mongo.py copies this file
// into FerretDB's internal/backends/sqlite package, without the tag line, and calls it from
// collection.Query, InsertAll and UpdateAll; the find and count handlers fill the QueryParams fields
// it reads (handler_exact.go).
//
// FerretDB v1 decodes every document a filter's SQL lets through (about 170 µs for a 4 KB job) and
// then counts, sorts and limits in Go: the first page of 50 of one repository's 10,000 jobs cost
// about 4 s. This answers counts, and sorted finds with a limit, in SQLite, through the app's
// compound list indexes, whenever SQLite's view of the values (the JSON text
// `_ferretdb_sjson->"k"`, the expression FerretDB indexes a field by) provably compares and orders
// as MongoDB's BSON values do. Anything else is answered upstream's way.
//
// What makes it exact is a record, per collection and top-level field, of the classes of value the
// stored documents hold there (fieldClass): built by one scan the first time a query needs the
// field, and kept up to date by every insert and update after it (a delete only removes values, so
// the record stays a superset). Given the classes:
//   - `{k: "v"}` and `{k: {$in: [...]}}` of plain strings are SQL text equality: exact when k holds
//     no arrays (an array matches when it contains v) and, for a v that reads as an ObjectID's hex,
//     no ObjectIDs (sjson writes an ObjectID as its hex string);
//   - `{k: {$gt|$gte|$lt|$lte: date}}` is SQL text comparison: exact when k holds only dates of 13
//     digits of milliseconds (2001-09-09 to 2286-11-20), whose text order is time order, null or
//     nothing (a range never matches null; its text `null` is kept out by `< ':'`, above every digit);
//   - a sort is pushed when it ends on _id and every key holds one class whose text order is its
//     BSON order (plain strings, 13-digit dates or ObjectIDs), or nothing: SQLite puts NULL
//     (missing) first, as MongoDB does.
//
// A count is pushed when every condition is exact. A sorted find with a limit is ordered by SQLite;
// with every condition exact SQLite limits it too, otherwise the rows come in SQL order, narrowed by
// the exact conditions, and are filtered here until the limit is reached. FerretDB's handler then
// filters, sorts (at most `limit` documents), skips and limits as always, so the order of what is
// returned is still decided by FerretDB's own comparison. A write that begins or lands while a
// pushed query runs sends that query upstream's way (exactRecords.unchanged).

package sqlite

import (
	"context"
	"fmt"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/common"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/fsql"
	"github.com/FerretDB/FerretDB/internal/util/iterator"
)

func emptyIterator() types.DocumentsIterator {
	return iterator.Values(iterator.ForSlice([]*types.Document{}))
}

// queryExact answers the query in SQLite if it can do so exactly; ok false means "ask upstream's way".
func (c *collection) queryExact(ctx context.Context, db *fsql.DB, meta *metadata.Collection, params *backends.QueryParams) (*backends.QueryResult, bool) {
	if pushdownDisabled() || meta.Capped() || params.OnlyRecordIDs {
		return nil, false
	}
	if params.CountOnly {
		return c.countExact(ctx, db, meta, params.ExactFilter)
	}
	if params.ExactLimit <= 0 || params.ExactLimit > maxExactLimit {
		return nil, false
	}
	return c.findExact(ctx, db, meta, params.ExactFilter, params.ExactSort, params.ExactLimit)
}

func (c *collection) countExact(ctx context.Context, db *fsql.DB, meta *metadata.Collection, filter *types.Document) (*backends.QueryResult, bool) {
	view, ok := records.view(ctx, db, c.dbName, meta.TableName, filterFields(filter))
	if !ok {
		return nil, false
	}
	plan := planFilter(filter, view.classes)
	if !plan.complete {
		return nil, false
	}
	var count int64
	q := fmt.Sprintf(`SELECT count(*) FROM %q`, meta.TableName) + plan.clause()
	if err := db.QueryRowContext(ctx, q, plan.args...).Scan(&count); err != nil || !records.unchanged(view) {
		return nil, false
	}
	return &backends.QueryResult{Iter: emptyIterator(), Counted: true, Count: count}, true
}

func (c *collection) findExact(ctx context.Context, db *fsql.DB, meta *metadata.Collection, filter, sort *types.Document, limit int64) (*backends.QueryResult, bool) {
	fields := append(filterFields(filter), sort.Keys()...)
	view, ok := records.view(ctx, db, c.dbName, meta.TableName, fields)
	if !ok {
		return nil, false
	}
	order, ok := orderBy(sort, view.classes)
	plan := planFilter(filter, view.classes)
	// Without a single exact condition, a filtered walk in sort order could read far more documents
	// than upstream's narrowing does.
	if !ok || (!plan.complete && len(plan.where) == 0) {
		return nil, false
	}
	q := fmt.Sprintf(`SELECT %s FROM %q`, metadata.DefaultColumn, meta.TableName) + plan.clause() + order
	args := plan.args
	if plan.complete {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	docs, ok := readMatching(ctx, db, q, args, filter, !plan.complete, limit)
	if !ok || !records.unchanged(view) {
		return nil, false
	}
	return &backends.QueryResult{Iter: iterator.Values(iterator.ForSlice(docs))}, true
}

// readMatching reads documents in the query's order until limit of them match the filter (checked
// here only when the SQL does not say it all).
func readMatching(ctx context.Context, db *fsql.DB, q string, args []any, filter *types.Document, check bool, limit int64) ([]*types.Document, bool) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, false
	}
	defer rows.Close()

	var docs []*types.Document
	for int64(len(docs)) < limit && rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, false
		}
		doc, err := sjson.Unmarshal(b)
		if err != nil {
			return nil, false
		}
		if check {
			matches, err := common.FilterDocument(doc, filter)
			if err != nil {
				return nil, false // upstream's way gives the client the same error
			}
			if !matches {
				continue
			}
		}
		docs = append(docs, doc)
	}
	return docs, rows.Err() == nil
}
