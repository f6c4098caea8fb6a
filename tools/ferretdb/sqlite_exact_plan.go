//go:build ignore

// A patch, not part of our program (hence the build tag): tools/embedded_mongo.py copies this file
// into FerretDB's internal/backends/sqlite package, without the tag line. Part of the exact pushdown
// described in sqlite_exact.go: a filter's conditions and a sort as SQL, where the classes make that exact.

package sqlite

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/FerretDB/FerretDB/internal/types"
)

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
	terms := make([]string, 0, bounds.Len()+1)
	var args []any
	bounded := false // by a 13-digit upper bound, which every digit text below it meets and `null` does not
	for _, operator := range bounds.Keys() {
		sqlOperator, ok := rangeOperators[operator]
		bound, isDate := valueOf(bounds.Get(operator)).(time.Time)
		if !ok || !isDate {
			return "", nil, false
		}
		term, arg := dateBound(key, sqlOperator, bound.UnixMilli())
		if term == "1" {
			continue
		}
		terms = append(terms, term)
		if arg != nil {
			args = append(args, arg)
			bounded = bounded || sqlOperator[0] == '<'
		}
	}
	// One upper bound only: SQLite walks an index for a range, but here a second upper bound made it
	// scan the table (240 ms for 10,000 jobs, against 2 ms).
	if !bounded {
		terms = append(terms, fieldText(key)+" < ':'") // present and a date: NULL and `null` fail it
	}
	return "(" + strings.Join(terms, " AND ") + ")", args, true
}

// dateBound compares a field that holds only 13-digit dates, null or nothing with a bound: as text
// when the bound has 13 digits too, else by where the bound lies (every stored date is above a smaller
// bound, "1", and below a larger one; dateRange keeps null and missing out).
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
