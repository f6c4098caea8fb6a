//go:build ignore

// A patch, not part of our program (hence the build tag): tools/embedded_mongo.py copies this file
// into FerretDB's internal/backends/sqlite package, without the tag line, and calls it from
// collection.Query.
//
// FerretDB v1's SQLite backend sends SQLite no filter but `_id`: every other query reads and decodes
// every document of the collection in Go, then filters there. A job poller's look through the queue
// or a catalog read scans the whole collection that way (350 ms for 800 jobs). This narrows the SQL
// with the filter's top-level string equalities, evaluated by SQLite (through an index when the
// collection has one on those fields) rather than by decoding documents in Go.
//
// It must only narrow to a superset: FerretDB re-applies the whole filter in memory afterwards (and
// pushes no limit down when there is a filter). Hence a document whose field is an array is always
// kept (`{status: "x"}` matches an array that contains "x"), and only plain keys and plain ASCII
// values are pushed, whose JSON text cannot differ between FerretDB's encoder and SQLite's.

package sqlite

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/types"
)

var (
	pushdownKey   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	pushdownValue = regexp.MustCompile(`^[A-Za-z0-9 _.:/@+=,-]*$`)
)

// pushdownDisabled is the server's -no-pushdown switch (main.go sets the variable): filters, counts,
// sorts and limits are then FerretDB's own, the reference the differential tests compare with.
var pushdownDisabled = sync.OnceValue(func() bool { return os.Getenv("AI_SPARK_FERRETDB_NO_PUSHDOWN") == "1" })

// maxPushedKeys bounds the conditions pushed: their array-safe form below has 2^n alternatives.
const maxPushedKeys = 3

// pushDownPlainStrings adds the filter's plain top-level string equalities to whereClause.
//
// Each key k with value v is kept when `k` is exactly "v" or is an array, written on the very
// expression FerretDB indexes a field by (`_ferretdb_sjson->"k"`), so SQLite can use the index:
// an array's JSON text is the only one that starts with '[' (so lies in ['[', '\')). The
// conditions are spread out into one alternative per combination (both forms of every key), since
// SQLite only walks an index for an OR whose every branch it can look up on its own. Without this,
// a look for claimable jobs read every job ever stored: 600 ms with 10 000 kept.
func pushDownPlainStrings(filter *types.Document, whereClause string, args []any) (string, []any) {
	if pushdownDisabled() {
		return whereClause, args
	}

	keys := filter.Keys()
	seen := make(map[string]int, len(keys))

	for _, key := range keys {
		seen[key]++
	}

	var columns []string
	var values []any

	for _, key := range keys {
		if len(columns) == maxPushedKeys {
			break
		}

		if key == "_id" || seen[key] != 1 || !pushdownKey.MatchString(key) {
			continue
		}

		value, err := filter.Get(key)
		if err != nil {
			continue
		}

		text, ok := value.(string)
		if !ok || !pushdownValue.MatchString(text) {
			continue
		}

		columns = append(columns, fmt.Sprintf(`%s->"%s"`, metadata.DefaultColumn, key))
		values = append(values, `"`+text+`"`)
	}

	if len(columns) == 0 {
		return whereClause, args
	}

	alternatives := make([]string, 0, 1<<len(columns))

	for combination := 0; combination < 1<<len(columns); combination++ {
		terms := make([]string, len(columns))

		for i, column := range columns {
			if combination&(1<<i) == 0 {
				terms[i] = column + " = ?"
				args = append(args, values[i])
			} else {
				terms[i] = fmt.Sprintf(`(%[1]s >= '[' AND %[1]s < '\')`, column)
			}
		}

		alternatives = append(alternatives, "("+strings.Join(terms, " AND ")+")")
	}

	joined := "(" + strings.Join(alternatives, " OR ") + ")"
	if whereClause == "" {
		return " WHERE " + joined, args
	}

	return whereClause + " AND " + joined, args
}
