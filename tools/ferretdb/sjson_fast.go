//go:build ignore

// A single-pass decoder of FerretDB's sjson documents, added to internal/handler/sjson at build
// time (tools/embedded_mongo.py, _patch_fast_sjson). Upstream's decoder (renamed unmarshalOriginal)
// runs encoding/json once per nesting level: each object becomes a map of json.RawMessage that the
// next level scans again, and every scalar goes through a json.Decoder and reflection. With the
// documents of AI Spark's jobs that was 72 % of the server's CPU for a find or a count.
//
// This one reads the schema (`$s`) into a small tree (kept for the next document with the same
// schema text), then the values in one pass with it. It only accepts what the documents FerretDB
// itself writes look like (sjson.Marshal: compact, `$s` first, fields in `$k` order, `p` before
// `$k`, no duplicate keys); on anything else, valid or not, it gives up and the original decodes
// the document, so odd inputs get exactly the original's answer (or error). Where it accepts, it must give what the original gives: scalars are converted with
// the very functions encoding/json uses (strconv, base64.StdEncoding, hex), strings are unquoted
// by its rules, and documents and arrays are built through the same types calls.
// tools/ferretdb/sjson_fast_test.go compares the two on FerretDB's vectors and random documents.
package sjson

import (
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// Unmarshal decodes the top-level document.
// It decodes document's schema from the `$s` field and uses it to decode the data of the document.
func Unmarshal(data []byte) (*types.Document, error) {
	if doc, ok := unmarshalFast(data); ok {
		return doc, nil
	}

	return unmarshalOriginal(data)
}

// unmarshalFast decodes what sjson.Marshal writes; false means "ask the original".
func unmarshalFast(data []byte) (*types.Document, bool) {
	dec := fastDecoder{data: data}
	if !dec.skipLiteral(`{"$s":`) {
		return nil, false
	}

	sch, ok := dec.cachedSchema()
	if !ok {
		return nil, false
	}

	for _, key := range sch.keys {
		if key == "$s" { // the original would take it for the schema; too odd to follow
			return nil, false
		}
	}

	// The top level's fields follow the schema, so each of them comes after a comma.
	doc, ok := dec.fields(sch, len(sch.keys) > 0)
	if !ok || dec.pos != len(data) {
		return nil, false
	}

	return doc, true
}

// fastSchema is a document's schema: its keys in order and the elem of each.
type fastSchema struct {
	keys  []string
	elems []fastElem
}

// fastElem is one schema elem; the has* flags tell a missing field from a zero one, as the
// original's pointers do.
type fastElem struct {
	schema     *fastSchema
	items      []fastElem
	options    string
	kind       elemType
	subtype    types.BinarySubtype
	hasItems   bool
	hasOptions bool
	hasSubtype bool
}

// fastDecoder reads one document; every method returns false where the original might disagree.
type fastDecoder struct {
	data []byte
	pos  int

	values []any // a stack shared by nested documents, so that each one allocates only its result
}

func (dec *fastDecoder) skipByte(c byte) bool {
	if dec.pos < len(dec.data) && dec.data[dec.pos] == c {
		dec.pos++
		return true
	}

	return false
}

func (dec *fastDecoder) skipLiteral(s string) bool {
	if len(dec.data)-dec.pos >= len(s) && string(dec.data[dec.pos:dec.pos+len(s)]) == s {
		dec.pos += len(s)
		return true
	}

	return false
}

// schemaCache keeps the top-level schemas of recent documents by their exact text: the documents
// of a collection mostly share a few, and reading the schema was half of the decoding. The same
// text always reads into the same (read-only) tree, so a hit gives what a parse would. Bounded, and
// emptied when full, so documents of ever-new schemas cost a copy of the text each, no more.
var schemaCache = struct {
	sync.RWMutex
	byText map[string]*fastSchema
	size   int
}{byText: make(map[string]*fastSchema)}

const (
	schemaCacheEntries = 1024
	schemaCacheBytes   = 8 << 20
)

// cachedSchema reads the top-level schema, or skips it if its text was read before.
func (dec *fastDecoder) cachedSchema() (*fastSchema, bool) {
	end, ok := objectEnd(dec.data, dec.pos)
	if !ok {
		return nil, false
	}

	text := dec.data[dec.pos:end]

	schemaCache.RLock()
	sch := schemaCache.byText[string(text)]
	schemaCache.RUnlock()

	if sch != nil {
		dec.pos = end
		return sch, true
	}

	if sch, ok = dec.schema(); !ok || dec.pos != end {
		return nil, false
	}

	schemaCache.Lock()
	defer schemaCache.Unlock()

	if len(schemaCache.byText) >= schemaCacheEntries || schemaCache.size+len(text) > schemaCacheBytes {
		clear(schemaCache.byText)
		schemaCache.size = 0
	}

	schemaCache.byText[string(text)] = sch
	schemaCache.size += len(text)

	return sch, true
}

// objectEnd finds where the object at data[start] ends by its brackets, strings skipped, without
// checking anything else: only a text that parsed as a schema before is ever found in the cache,
// and for that text this end is where the parse ended.
func objectEnd(data []byte, start int) (int, bool) {
	if start >= len(data) || data[start] != '{' {
		return 0, false
	}

	depth := 0

	for i := start; i < len(data); i++ {
		switch data[i] {
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1, true
			}
		}
	}

	return 0, false
}

// schema reads `{"p":{...},"$k":[...]}` (or `{}`): the keys must be the same, in the same order, and
// unique, so that the original's map lookups and this positional reading agree.
func (dec *fastDecoder) schema() (*fastSchema, bool) {
	sch := new(fastSchema)
	if dec.skipLiteral("{}") {
		return sch, true
	}

	if !dec.skipLiteral(`{"p":`) || !dec.properties(sch) || !dec.skipLiteral(`,"$k":`) {
		return nil, false
	}

	if !dec.keyList(sch.keys) || !dec.skipByte('}') || hasDuplicate(sch.keys) {
		return nil, false
	}

	return sch, true
}

// properties reads the `p` object into sch's keys and elems.
func (dec *fastDecoder) properties(sch *fastSchema) bool {
	if !dec.skipByte('{') {
		return false
	}

	if dec.skipByte('}') {
		return true
	}

	for {
		key, ok := dec.str()
		if !ok || !dec.skipByte(':') {
			return false
		}

		sch.keys = append(sch.keys, key)
		sch.elems = append(sch.elems, fastElem{})

		if !dec.elem(&sch.elems[len(sch.elems)-1]) {
			return false
		}

		if dec.skipByte('}') {
			return true
		}

		if !dec.skipByte(',') {
			return false
		}
	}
}

// keyList reads `$k` and checks that it lists exactly the keys `p` had, in order.
func (dec *fastDecoder) keyList(keys []string) bool {
	if !dec.skipByte('[') {
		return false
	}

	if dec.skipByte(']') {
		return len(keys) == 0
	}

	for i := 0; ; i++ {
		if i >= len(keys) || !dec.strEquals(keys[i]) {
			return false
		}

		if dec.skipByte(']') {
			return i == len(keys)-1
		}

		if !dec.skipByte(',') {
			return false
		}
	}
}

// hasDuplicate tells whether a key appears twice (the original's maps would keep only one).
func hasDuplicate(keys []string) bool {
	if len(keys) <= 16 {
		for i := range keys {
			for j := i + 1; j < len(keys); j++ {
				if keys[i] == keys[j] {
					return true
				}
			}
		}

		return false
	}

	seen := make(map[string]struct{}, len(keys))
	for _, key := range keys {
		if _, ok := seen[key]; ok {
			return true
		}

		seen[key] = struct{}{}
	}

	return false
}

// elem reads one schema elem; its fields may come in any order, each at most once.
func (dec *fastDecoder) elem(el *fastElem) bool {
	if !dec.skipByte('{') {
		return false
	}

	var seen [5]bool

	for {
		field, ok := dec.plainKey()
		if !ok {
			return false
		}

		var index int

		switch field {
		case "t":
			index, ok = 0, dec.elemKind(el)
		case "$s":
			el.schema, ok = dec.schema()
			index = 1
		case "o":
			el.options, ok = dec.str()
			index, el.hasOptions = 2, true
		case "i":
			index, ok = 3, dec.items(el)
		case "s":
			index, ok = 4, dec.subtype(el)
		default:
			return false // DisallowUnknownFields errs, and it matches field names case-insensitively
		}

		if !ok || seen[index] {
			return false
		}

		seen[index] = true

		if dec.skipByte('}') {
			return seen[0] // no type: the original errs unless the value is null
		}

		if !dec.skipByte(',') {
			return false
		}
	}
}

// plainKey reads an object key without escapes and its colon; it returns a view of the input.
func (dec *fastDecoder) plainKey() (string, bool) {
	raw, escaped, ok := dec.rawString()
	if !ok || escaped || !dec.skipByte(':') {
		return "", false
	}

	return unsafe.String(unsafe.SliceData(raw), len(raw)), true
}

// elemKind reads the `t` field; a type the original does not know is left to it.
func (dec *fastDecoder) elemKind(el *fastElem) bool {
	raw, escaped, ok := dec.rawString()
	if !ok || escaped {
		return false
	}

	name := unsafe.String(unsafe.SliceData(raw), len(raw))
	for _, kind := range fastElemKinds {
		if name == string(kind) {
			el.kind = kind // the constant: no string allocated per elem
			return true
		}
	}

	return false
}

// fastElemKinds are the types unmarshalSingleValue knows, the most frequent first.
var fastElemKinds = [...]elemType{
	elemTypeString, elemTypeDate, elemTypeObject, elemTypeInt, elemTypeLong, elemTypeDouble, elemTypeBool,
	elemTypeNull, elemTypeArray, elemTypeObjectID, elemTypeBinData, elemTypeRegex, elemTypeTimestamp,
}

// items reads the `i` field: an array's item elems (present and empty for an empty array).
func (dec *fastDecoder) items(el *fastElem) bool {
	el.hasItems = true
	el.items = []fastElem{} // `[]` gives the original a non-nil empty slice: "items are set"

	if !dec.skipByte('[') {
		return false
	}

	if dec.skipByte(']') {
		return true
	}

	for {
		el.items = append(el.items, fastElem{})
		if !dec.elem(&el.items[len(el.items)-1]) {
			return false
		}

		if dec.skipByte(']') {
			return true
		}

		if !dec.skipByte(',') {
			return false
		}
	}
}

// subtype reads the `s` field, a byte as encoding/json decodes one: digits only, at most 255.
func (dec *fastDecoder) subtype(el *fastElem) bool {
	token, ok := dec.number()
	if !ok {
		return false
	}

	n, err := strconv.ParseUint(unsafe.String(unsafe.SliceData(token), len(token)), 10, 8)
	if err != nil {
		return false
	}

	el.subtype, el.hasSubtype = types.BinarySubtype(n), true

	return true
}

// fields reads the fields of a document whose opening brace is read, up to its closing brace.
// Each key must be the schema's next one; afterComma is for the top level, where the first field
// follows `$s`.
func (dec *fastDecoder) fields(sch *fastSchema, afterComma bool) (*types.Document, bool) {
	base := len(dec.values)

	for i, key := range sch.keys {
		if (i > 0 || afterComma) && !dec.skipByte(',') {
			return nil, false
		}

		if !dec.strEquals(key) || !dec.skipByte(':') {
			return nil, false
		}

		v, ok := dec.value(&sch.elems[i])
		if !ok {
			return nil, false
		}

		dec.values = append(dec.values, v)
	}

	if !dec.skipByte('}') {
		return nil, false
	}

	values := dec.values[base:]
	doc := must.NotFail(types.ConvertDocument(&fastFields{keys: sch.keys, values: values}))

	clear(values) // let the stack drop its references
	dec.values = dec.values[:base]

	return doc, true
}

// fastFields hands keys and values to types.ConvertDocument, which copies them into a document
// as the original's NewDocument and Set calls would (each key counted once, fields in order).
type fastFields struct {
	keys   []string
	values []any
}

func (f *fastFields) Keys() []string { return f.keys }
func (f *fastFields) Values() []any  { return f.values }

// value reads one value with its elem, as the original's unmarshalSingleValue: null first, whatever
// the elem says.
func (dec *fastDecoder) value(el *fastElem) (any, bool) {
	if dec.skipLiteral("null") {
		return types.Null, true
	}

	switch el.kind {
	case elemTypeObject:
		return dec.document(el)
	case elemTypeArray:
		return dec.array(el)
	case elemTypeDouble:
		return dec.double()
	case elemTypeString:
		return dec.str()
	case elemTypeBinData:
		return dec.binary(el)
	case elemTypeObjectID:
		return dec.objectID()
	case elemTypeBool:
		if dec.skipLiteral("true") {
			return true, true
		}

		return false, dec.skipLiteral("false")
	case elemTypeDate:
		n, ok := dec.integer(64)
		return time.UnixMilli(n), ok
	case elemTypeRegex:
		pattern, ok := dec.str()
		return types.Regex{Pattern: pattern, Options: el.options}, ok && el.hasOptions
	case elemTypeInt:
		n, ok := dec.integer(32)
		return int32(n), ok
	case elemTypeTimestamp:
		return dec.timestamp()
	case elemTypeLong:
		return dec.integer(64)
	}

	return nil, false // elemTypeNull with a value that is not null: the original errs
}

// document reads a nested document; `{}` is an empty document whatever its schema says.
func (dec *fastDecoder) document(el *fastElem) (any, bool) {
	if el.schema == nil || !dec.skipByte('{') {
		return nil, false
	}

	if dec.skipByte('}') {
		return new(types.Document), true
	}

	if len(el.schema.keys) == 0 {
		return nil, false
	}

	return dec.fields(el.schema, false)
}

// array reads an array, one item per item elem.
func (dec *fastDecoder) array(el *fastElem) (any, bool) {
	if !el.hasItems || !dec.skipByte('[') {
		return nil, false
	}

	arr := types.MakeArray(len(el.items))

	for i := range el.items {
		if i > 0 && !dec.skipByte(',') {
			return nil, false
		}

		v, ok := dec.value(&el.items[i])
		if !ok {
			return nil, false
		}

		arr.Append(v)
	}

	return arr, dec.skipByte(']')
}

func (dec *fastDecoder) double() (any, bool) {
	token, ok := dec.number()
	if !ok {
		return nil, false
	}

	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(token), len(token)), 64)

	return f, err == nil
}

// integer reads a JSON number as encoding/json does into an int of that size: ParseInt, then a
// range check (so 1.0 and 1e3 are errors, -0 is 0).
func (dec *fastDecoder) integer(bits int) (int64, bool) {
	token, ok := dec.number()
	if !ok {
		return 0, false
	}

	n, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(token), len(token)), 10, bits)

	return n, err == nil
}

func (dec *fastDecoder) timestamp() (any, bool) {
	token, ok := dec.number()
	if !ok {
		return nil, false
	}

	n, err := strconv.ParseUint(unsafe.String(unsafe.SliceData(token), len(token)), 10, 64)

	return types.Timestamp(n), err == nil
}

// binary decodes base64 as encoding/json does into a []byte (StdEncoding, which skips \r and \n;
// "" gives an empty, non-nil slice).
func (dec *fastDecoder) binary(el *fastElem) (any, bool) {
	s, ok := dec.strBytes()
	if !ok || !el.hasSubtype {
		return nil, false
	}

	b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))

	n, err := base64.StdEncoding.Decode(b, s)
	if err != nil {
		return nil, false
	}

	return types.Binary{B: b[:n], Subtype: el.subtype}, true
}

func (dec *fastDecoder) objectID() (any, bool) {
	s, ok := dec.strBytes()
	if !ok || len(s) != 2*types.ObjectIDLen {
		return nil, false
	}

	var id types.ObjectID
	if _, err := hex.Decode(id[:], s); err != nil {
		return nil, false
	}

	return id, true
}

// number reads a number token of JSON's grammar (strconv alone would take more: "Inf", "0x1p3"...).
func (dec *fastDecoder) number() ([]byte, bool) {
	d, start := dec.data, dec.pos
	i := start

	if i < len(d) && d[i] == '-' {
		i++
	}

	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = skipDigits(d, i+1)
	default:
		return nil, false
	}

	if i < len(d) && d[i] == '.' {
		if i++; i >= len(d) || !isDigit(d[i]) {
			return nil, false
		}

		i = skipDigits(d, i)
	}

	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		if i++; i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}

		if i >= len(d) || !isDigit(d[i]) {
			return nil, false
		}

		i = skipDigits(d, i)
	}

	dec.pos = i

	return d[start:i], true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func skipDigits(d []byte, i int) int {
	for i < len(d) && isDigit(d[i]) {
		i++
	}

	return i
}

// rawString reads a string token and returns its bytes between the quotes; escaped tells whether
// they need unquoting. It checks what encoding/json's scanner checks: no control characters, and
// only JSON's escapes.
func (dec *fastDecoder) rawString() (raw []byte, escaped, ok bool) {
	d := dec.data
	if dec.pos >= len(d) || d[dec.pos] != '"' {
		return nil, false, false
	}

	start := dec.pos + 1

	for i := start; i < len(d); i++ {
		switch c := d[i]; {
		case c == '"':
			dec.pos = i + 1
			return d[start:i], escaped, true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			n := escapeLen(d[i:])
			if n == 0 {
				return nil, false, false
			}

			escaped = true
			i += n - 1
		}
	}

	return nil, false, false
}

// escapeLen is the length of the valid escape sequence at the start of s, or 0.
func escapeLen(s []byte) int {
	if len(s) < 2 {
		return 0
	}

	switch s[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if getu4(s) >= 0 {
			return 6
		}
	}

	return 0
}

// strBytes reads a string token and unquotes it; the result may be a view of the input.
func (dec *fastDecoder) strBytes() ([]byte, bool) {
	raw, escaped, ok := dec.rawString()
	if !ok {
		return nil, false
	}

	if !escaped && isValidText(raw) {
		return raw, true
	}

	return unquote(raw), true
}

// str reads a string token into a new string.
func (dec *fastDecoder) str() (string, bool) {
	s, ok := dec.strBytes()
	return string(s), ok
}

// strEquals reads a string token and tells whether it unquotes to want (without allocating when
// it needs no unquoting).
func (dec *fastDecoder) strEquals(want string) bool {
	s, ok := dec.strBytes()
	return ok && string(s) == want
}

// isValidText tells whether raw string bytes are already what unquoting them gives: valid UTF-8.
func isValidText(raw []byte) bool {
	for _, c := range raw {
		if c >= utf8.RuneSelf {
			return utf8.Valid(raw)
		}
	}

	return true
}

// unquote is encoding/json's unquote for string bytes that rawString checked: escapes decoded,
// an invalid UTF-8 byte or a lone surrogate becomes U+FFFD.
func unquote(s []byte) []byte {
	b := make([]byte, 0, len(s)+2*utf8.UTFMax)

	for r := 0; r < len(s); {
		switch c := s[r]; {
		case c == '\\':
			b, r = unescape(b, s, r)
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			b = utf8.AppendRune(b, rr)
			r += size
		}
	}

	return b
}

// unescape appends the character of the escape at s[r] and returns the index after it.
func unescape(b, s []byte, r int) ([]byte, int) {
	switch s[r+1] {
	case 'b':
		return append(b, '\b'), r + 2
	case 'f':
		return append(b, '\f'), r + 2
	case 'n':
		return append(b, '\n'), r + 2
	case 'r':
		return append(b, '\r'), r + 2
	case 't':
		return append(b, '\t'), r + 2
	case 'u':
		rr := getu4(s[r:])
		r += 6

		if utf16.IsSurrogate(rr) {
			if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != unicode.ReplacementChar {
				return utf8.AppendRune(b, dec), r + 6
			}

			rr = unicode.ReplacementChar
		}

		return utf8.AppendRune(b, rr), r
	}

	return append(b, s[r+1]), r + 2 // '"', '\\' and '/'
}

// getu4 decodes \uXXXX from the start of s, or returns -1 (as encoding/json's getu4).
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}

	var r rune

	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}

		r = r*16 + rune(c)
	}

	return r
}
