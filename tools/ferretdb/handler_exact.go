//go:build ignore

// A patch, not part of our program (hence the build tag): tools/embedded_mongo.py copies this file
// into FerretDB's internal/handler package, without the tag line, and calls it from MsgFind and
// MsgCount. It hands the backend what it needs to answer a count or a sorted page exactly in SQLite
// (sqlite_exact.go): the whole filter (the find handler's own QueryParams.Filter lacks dotted keys),
// the sort, and how many documents the command can return at most.

package handler

import (
	"github.com/FerretDB/wire"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/handler/common"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// setExactFind fills a find's exact-pushdown fields; a find without a limit is left to upstream.
func setExactFind(qp *backends.QueryParams, params *common.FindParams, disabled bool) {
	if disabled || params.Limit <= 0 || params.Tailable {
		return
	}
	qp.ExactFilter = params.Filter
	qp.ExactSort = params.Sort // validated by makeFindQueryParams
	qp.ExactLimit = params.Skip + params.Limit
}

// setExactCount asks for a count the backend may answer itself; with skip or limit it is upstream's.
func setExactCount(qp *backends.QueryParams, params *common.CountParams, disabled bool) {
	if disabled || params.Skip != 0 || params.Limit != 0 {
		return
	}
	qp.ExactFilter = params.Filter
	qp.CountOnly = true
}

// exactCountAnswer is MsgCount's reply for a count the backend answered.
func exactCountAnswer(n int64) (*wire.OpMsg, error) {
	return documentOpMsg(must.NotFail(types.NewDocument("n", int32(n), "ok", float64(1))))
}
