//go:build ignore

// A patch, not part of our program (hence the build tag): tools/embedded_mongo.py copies this file
// into FerretDB's internal/backends/sqlite package, without the tag line, and calls it from
// collection.Query.
//
// FerretDB v1's SQLite backend sends SQLite no filter but `_id`: every other query reads and decodes
// every document of the collection in Go, then filters there. A job poller's look through the queue
// or a catalog read scans the whole collection that way (350 ms for 800 jobs). This narrows the SQL
// with the filter's top-level string equalities, evaluated by SQLite's JSON functions in C.
//
// It must only narrow to a superset: FerretDB re-applies the whole filter in memory afterwards (and
// pushes no limit down when there is a filter). Hence a document whose field is an array is always
// kept (`{status: "x"}` matches an array that contains "x"), and only plain keys and plain ASCII
// values are pushed, whose JSON text cannot differ between FerretDB's encoder and SQLite's.

package sqlite

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/types"
)

var (
	pushdownKey   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	pushdownValue = regexp.MustCompile(`^[A-Za-z0-9 _.:/@+=,-]*$`)
)

// pushDownPlainStrings adds the filter's plain top-level string equalities to whereClause.
func pushDownPlainStrings(filter *types.Document, whereClause string, args []any) (string, []any) {
	keys := filter.Keys()
	seen := make(map[string]int, len(keys))

	for _, key := range keys {
		seen[key]++
	}

	var conditions []string

	for _, key := range keys {
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

		path := "$." + key
		conditions = append(conditions, fmt.Sprintf(
			`(%[1]s->? = ? OR json_type(%[1]s, ?) = 'array')`, metadata.DefaultColumn,
		))
		args = append(args, path, `"`+text+`"`, path)
	}

	if len(conditions) == 0 {
		return whereClause, args
	}

	joined := strings.Join(conditions, " AND ")
	if whereClause == "" {
		return " WHERE " + joined, args
	}

	return whereClause + " AND " + joined, args
}
