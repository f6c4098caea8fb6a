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
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/common"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/fsql"
	"github.com/FerretDB/FerretDB/internal/util/iterator"
)

// fieldClass is one kind of value a top-level field can hold, as far as SQL's view of its JSON text
// and MongoDB's comparison of the value can differ. A field's record is a set of them.
type fieldClass uint16

const (
	classMissing     fieldClass = 1 << iota
	classPlainString            // JSON text is the bytes in quotes, none below '#', no escape (isPlainString)
	classOtherString
	classDate13 // milliseconds of 13 digits: text order is time order
	classOtherDate
	classObjectID // JSON text is the lowercase hex in quotes
	classArray
	classNull  // JSON text `null`, which sorts after every number's
	classOther // numbers, booleans, documents, binary, regex, timestamps
)

// The classes a pushed sort key may hold: each orders as text exactly as MongoDB orders it.
var orderedClasses = []fieldClass{
	classMissing | classPlainString,
	classMissing | classDate13,
	classMissing | classObjectID,
}

const (
	// maxExactLimit bounds the documents a pushed find holds in memory before handing them on.
	maxExactLimit = 10_000
	minDate13     = 1_000_000_000_000
	maxDate13     = 9_999_999_999_999
)

var exactKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// isPlainString reports whether Go's JSON encoder (sjson) writes s as its own bytes in quotes, with
// every byte above '"': such texts compare and order as the strings do (MongoDB compares UTF-8 bytes).
func isPlainString(s string) bool {
	if !utf8.ValidString(s) || strings.ContainsAny(s, "\\<>&\u2028\u2029") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= '"' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func isDate13(milliseconds int64) bool {
	return milliseconds >= minDate13 && milliseconds <= maxDate13
}

// looksLikeObjectIDHex: a string whose JSON text an ObjectID's could equal.
func looksLikeObjectIDHex(s string) bool {
	if len(s) != 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("0123456789abcdef", rune(s[i])) {
			return false
		}
	}
	return true
}

// classOfValue classifies a field of a document being written.
func classOfValue(doc *types.Document, field string) fieldClass {
	if !doc.Has(field) {
		return classMissing
	}
	switch value := valueOf(doc.Get(field)).(type) {
	case string:
		if isPlainString(value) {
			return classPlainString
		}
		return classOtherString
	case time.Time:
		if isDate13(value.UnixMilli()) {
			return classDate13
		}
		return classOtherDate
	case types.ObjectID:
		return classObjectID
	case *types.Array:
		return classArray
	case types.NullType:
		return classNull
	default:
		return classOther
	}
}

// classOfStored classifies a stored field from its sjson schema type and its JSON text.
func classOfStored(schemaType, text sql.NullString) fieldClass {
	if !schemaType.Valid || !text.Valid {
		return classMissing
	}
	switch schemaType.String {
	case "string":
		inner := strings.TrimSuffix(strings.TrimPrefix(text.String, `"`), `"`)
		if len(inner) == len(text.String)-2 && isPlainString(inner) {
			return classPlainString
		}
		return classOtherString
	case "date":
		if milliseconds, err := strconv.ParseInt(text.String, 10, 64); err == nil && isDate13(milliseconds) &&
			text.String == strconv.FormatInt(milliseconds, 10) {
			return classDate13
		}
		return classOtherDate
	case "objectId":
		return classObjectID
	case "array":
		return classArray
	case "null":
		return classNull
	default:
		return classOther
	}
}

// valueOf drops the error of a Get whose key or index is known to be there.
func valueOf(value any, _ error) any { return value }

// fieldText is the SQL expression FerretDB indexes a top-level field by; SQLite uses an expression
// index only for the very same expression.
func fieldText(field string) string {
	return fmt.Sprintf(`%s->"%s"`, metadata.DefaultColumn, field)
}

// exactTable is what is known of one collection's table: its fields' classes, the writes begun and
// not yet ended, and a count of writes ended, so a reader can tell whether anything changed.
type exactTable struct {
	fields     map[string]fieldClass
	writing    int
	generation uint64
}

type exactRecords struct {
	mu     sync.Mutex
	tables map[string]*exactTable
}

var records = &exactRecords{tables: make(map[string]*exactTable)}

func tableID(dbName, table string) string { return dbName + "\x00" + table }

// tableLocked returns the table's record, creating it; records.mu must be held.
func (r *exactRecords) tableLocked(id string) *exactTable {
	t := r.tables[id]
	if t == nil {
		t = &exactTable{fields: make(map[string]fieldClass)}
		r.tables[id] = t
	}
	return t
}

// noteWrite is called before a write's transaction; the function it returns, after it (committed or
// not: the classes only grow, which keeps them a superset).
func noteWrite(dbName, table string, docs []*types.Document) func() {
	id := tableID(dbName, table)
	records.mu.Lock()
	records.tableLocked(id).writing++
	records.mu.Unlock()

	return func() {
		records.mu.Lock()
		defer records.mu.Unlock()
		t := records.tableLocked(id)
		t.writing--
		t.generation++
		for field, classes := range t.fields {
			for _, doc := range docs {
				classes |= classOfValue(doc, field)
			}
			t.fields[field] = classes
		}
	}
}

// exactView is a reader's look at a table's classes, valid while unchanged says so.
type exactView struct {
	id         string
	generation uint64
	classes    map[string]fieldClass
}

// view returns the classes of fields, scanning the table once for fields not yet recorded. It gives
// no view while a write is under way, or when one landed during the scan.
func (r *exactRecords) view(ctx context.Context, db *fsql.DB, dbName, table string, fields []string) (*exactView, bool) {
	id := tableID(dbName, table)
	r.mu.Lock()
	t := r.tableLocked(id)
	if t.writing > 0 {
		r.mu.Unlock()
		return nil, false
	}
	v := &exactView{id: id, generation: t.generation, classes: make(map[string]fieldClass, len(fields))}
	var unknown []string
	for _, field := range fields {
		if classes, ok := t.fields[field]; ok {
			v.classes[field] = classes
		} else {
			unknown = append(unknown, field)
		}
	}
	r.mu.Unlock()

	if len(unknown) == 0 {
		return v, true
	}
	scanned, err := scanClasses(ctx, db, table, unknown)
	if err != nil {
		return nil, false
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if t.writing > 0 || t.generation != v.generation {
		return nil, false
	}
	for field, classes := range scanned {
		t.fields[field] = classes
		v.classes[field] = classes
	}
	return v, true
}

// unchanged reports whether no write has begun or ended on the view's table since it was taken.
func (r *exactRecords) unchanged(v *exactView) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tables[v.id]
	return t != nil && t.writing == 0 && t.generation == v.generation
}

// scanClasses reads every stored document's schema type and JSON text of fields, evaluated by SQLite.
func scanClasses(ctx context.Context, db *fsql.DB, table string, fields []string) (map[string]fieldClass, error) {
	columns := make([]string, 0, 2*len(fields))
	for _, field := range fields {
		columns = append(columns, fmt.Sprintf(`%s->>'$."$s".p.%s.t'`, metadata.DefaultColumn, field), fieldText(field))
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM %q`, strings.Join(columns, ", "), table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	values := make([]sql.NullString, len(columns))
	dest := make([]any, len(columns))
	for i := range values {
		dest[i] = &values[i]
	}
	classes := make(map[string]fieldClass, len(fields))
	for _, field := range fields {
		classes[field] = 0
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		for i, field := range fields {
			classes[field] |= classOfStored(values[2*i], values[2*i+1])
		}
	}
	return classes, rows.Err()
}

// exactFilter is a filter's conditions as SQL: where holds the exact ones; complete says every
// condition is there.
type exactFilter struct {
	where    []string
	args     []any
	complete bool
}

func (f exactFilter) clause() string {
	if len(f.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.where, " AND ")
}

// filterFields are the top-level fields whose classes decide the filter's conditions.
func filterFields(filter *types.Document) []string {
	var fields []string
	for _, key := range filter.Keys() {
		if exactKey.MatchString(key) && key != "_id" {
			fields = append(fields, key)
		}
	}
	return fields
}

func planFilter(filter *types.Document, classes map[string]fieldClass) exactFilter {
	plan := exactFilter{complete: true}
	seen := make(map[string]int)
	for _, key := range filter.Keys() {
		seen[key]++
	}
	for _, key := range filter.Keys() {
		classesOfKey, known := classes[key]
		if !known || seen[key] != 1 {
			plan.complete = false
			continue
		}
		condition, args, ok := exactCondition(key, valueOf(filter.Get(key)), classesOfKey)
		if !ok {
			plan.complete = false
			continue
		}
		plan.where = append(plan.where, condition)
		plan.args = append(plan.args, args...)
	}
	return plan
}

// exactCondition is one top-level condition as SQL, if SQL answers it as MongoDB does.
func exactCondition(key string, value any, classes fieldClass) (string, []any, bool) {
	switch value := value.(type) {
	case string:
		return stringsEqual(key, []any{value}, classes)
	case *types.Document:
		if value.Len() == 1 && value.Has("$in") {
			if values, ok := valueOf(value.Get("$in")).(*types.Array); ok {
				return stringsEqual(key, arrayValues(values), classes)
			}
			return "", nil, false
		}
		return dateRange(key, value, classes)
	default:
		return "", nil, false
	}
}

func arrayValues(array *types.Array) []any {
	values := make([]any, array.Len())
	for i := range values {
		values[i] = valueOf(array.Get(i))
	}
	return values
}

func stringsEqual(key string, values []any, classes fieldClass) (string, []any, bool) {
	if classes&classArray != 0 {
		return "", nil, false
	}
	if len(values) == 0 {
		return "0", nil, true // $in of nothing matches nothing
	}
	texts := make([]any, 0, len(values))
	for _, value := range values {
		text, ok := value.(string)
		if !ok || !isPlainString(text) || (classes&classObjectID != 0 && looksLikeObjectIDHex(text)) {
			return "", nil, false
		}
		texts = append(texts, `"`+text+`"`)
	}
	if len(texts) == 1 {
		return fieldText(key) + " = ?", texts, true
	}
	return fmt.Sprintf("%s IN (?%s)", fieldText(key), strings.Repeat(", ?", len(texts)-1)), texts, true
}

var rangeOperators = map[string]string{"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}

func dateRange(key string, bounds *types.Document, classes fieldClass) (string, []any, bool) {
	if classes&^(classMissing|classNull|classDate13) != 0 || bounds.Len() == 0 {
		return "", nil, false
	}
	terms := make([]string, 0, bounds.Len())
	var args []any
	for _, operator := range bounds.Keys() {
		sqlOperator, ok := rangeOperators[operator]
		bound, isDate := valueOf(bounds.Get(operator)).(time.Time)
		if !ok || !isDate {
			return "", nil, false
		}
		term, arg := dateBound(key, sqlOperator, bound.UnixMilli())
		terms = append(terms, term)
		if arg != nil {
			args = append(args, arg)
		}
	}
	terms = append(terms, fieldText(key)+" < ':'") // a date, not null
	return "(" + strings.Join(terms, " AND ") + ")", args, true
}

// dateBound compares a field that holds only 13-digit dates, null or nothing with a bound: as text
// when the bound has 13 digits too, else by where the bound lies (every stored date is above a smaller
// bound and below a larger one; dateRange keeps null out).
func dateBound(key, operator string, milliseconds int64) (string, any) {
	above := operator[0] == '>'
	switch {
	case isDate13(milliseconds):
		return fmt.Sprintf("%s %s ?", fieldText(key), operator), strconv.FormatInt(milliseconds, 10)
	case (milliseconds < minDate13) == above:
		return "1", nil
	default:
		return "0", nil
	}
}

// orderBy is the sort as SQL, if SQLite orders the documents as MongoDB does: it ends on _id (so no
// ties are left to an engine's whim) and each key holds one ordered class.
func orderBy(sort *types.Document, classes map[string]fieldClass) (string, bool) {
	keys := sort.Keys()
	if len(keys) == 0 || keys[len(keys)-1] != "_id" {
		return "", false
	}
	terms := make([]string, 0, len(keys))
	seen := make(map[string]bool, len(keys))
	for _, key := range keys {
		if seen[key] || !exactKey.MatchString(key) || !ordered(classes[key]) {
			return "", false
		}
		seen[key] = true
		direction, _ := valueOf(sort.Get(key)).(int64)
		switch direction {
		case 1:
			terms = append(terms, fieldText(key))
		case -1:
			terms = append(terms, fieldText(key)+" DESC")
		default:
			return "", false
		}
	}
	return " ORDER BY " + strings.Join(terms, ", "), true
}

func ordered(classes fieldClass) bool {
	if classes == 0 {
		return true // no document holds anything yet
	}
	for _, allowed := range orderedClasses {
		if classes&^allowed == 0 {
			return true
		}
	}
	return false
}

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
