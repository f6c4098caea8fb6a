//go:build ignore

// A patch, not part of our program (hence the build tag): tools/embedded_mongo.py copies this file
// into FerretDB's internal/backends/sqlite package, without the tag line. Part of the exact pushdown
// described in sqlite_exact.go: the classes of value a field holds, and their record per table.

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

	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/fsql"
)

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
