//go:build ignore

// Differential tests of sjson_fast.go against upstream's decoder (unmarshalOriginal), copied into
// internal/handler/sjson only to run them (tests/tools/test_ferretdb_sjson.py). "The same" is
// strict: reflect.DeepEqual of the documents (so nil and empty slices, key counts and time zones
// count), and floats compared by their bits (so -0 is not 0). An input the original rejects must
// be rejected (the error text may differ).
package sjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// compareDecoders decodes data both ways and fails on any difference; it returns whether the fast
// path (not its fallback) decoded it.
func compareDecoders(tb testing.TB, data []byte) bool {
	tb.Helper()

	want, wantErr := unmarshalOriginal(data)
	got, gotErr := Unmarshal(data)
	fast, fastOK := unmarshalFast(data)

	switch {
	case wantErr != nil:
		if gotErr == nil || fastOK {
			tb.Fatalf("the original rejects %q (%v), the fast decoder gives %v", data, wantErr, got)
		}
	case gotErr != nil:
		tb.Fatalf("the original accepts %q, the fast decoder says %v", data, gotErr)
	case !sameValue(want, got) || (fastOK && !sameValue(want, fast)):
		tb.Fatalf("different results for %q:\noriginal: %#v\nfast:     %#v", data, want, got)
	}

	return fastOK
}

// sameValue is reflect.DeepEqual that also tells -0 from 0.
func sameValue(a, b any) bool {
	if !reflect.DeepEqual(a, b) {
		return false
	}

	switch a := a.(type) {
	case float64:
		return math.Float64bits(a) == math.Float64bits(b.(float64))
	case *types.Document:
		return sameValues(a.Values(), b.(*types.Document).Values())
	case *types.Array:
		b := b.(*types.Array)
		for i := range a.Len() {
			if !sameValue(must.NotFail(a.Get(i)), must.NotFail(b.Get(i))) {
				return false
			}
		}
	}

	return true
}

func sameValues(a, b []any) bool {
	for i := range a {
		if !sameValue(a[i], b[i]) {
			return false
		}
	}

	return true
}

// vectorDocuments wraps FerretDB's own test vectors (values with their elems) into top-level
// documents, as a field "v" of a document, and adds the documents of their valid values.
func vectorDocuments() [][]byte {
	lists := []struct {
		cases []testCase
		elem  *elem
	}{
		{documentTestCases, nil}, {arrayTestCases, nil}, {binaryTestCases, nil}, {regexTestCases, nil},
		{doubleTestCases, doubleSchema}, {stringTestCases, stringSchema}, {objectIDTestCases, objectIDSchema},
		{boolTestCases, boolSchema}, {dateTimeTestCases, dateSchema}, {int32TestCases, intSchema},
		{timestampTestCases, timestampSchema}, {int64TestCases, longSchema},
	}

	var docs [][]byte

	for _, list := range lists {
		for _, tc := range list.cases {
			el := list.elem
			if tc.sch != nil {
				el = tc.sch
			}

			if el != nil {
				elemJSON := must.NotFail(json.Marshal(el))
				docs = append(docs, fmt.Appendf(nil, `{"$s":{"p":{"v":%s},"$k":["v"]},"v":%s}`, elemJSON, tc.j))
			}

			if tc.v != nil {
				doc := must.NotFail(types.NewDocument("v", fromSJSON(tc.v)))
				docs = append(docs, must.NotFail(Marshal(doc)))
			}
		}
	}

	return append(docs, oddDocuments...)
}

// oddDocuments are top-level inputs of FerretDB's own tests and shapes sjson.Marshal never
// writes, which the fast decoder must leave to the original (or decode the same).
var oddDocuments = [][]byte{
	[]byte(`{"$s":{}}`),
	[]byte(`{"$s":{"p":{"foo":{"t":"string"}},"$k":["foo"]},"foo":"bar"}`),
	[]byte(`{"$s": {"p": {"foo": {"t": "string"}}, "$k": ["foo"]}, "foo": "bar"}`),
	[]byte(` {"$s":{}}`),
	[]byte(`{"$s":{}} `),
	[]byte(`{"$s":{}}{}`),
	[]byte(`"foo"`),
	[]byte(`null`),
	[]byte(`{}`),
	[]byte(`{"foo":"bar"}`),
	[]byte(`{"$s":null}`),
	[]byte(`{"$s":{"p":null,"$k":null}}`),
	[]byte(`{"$s":{"p":{"foo":{"t":"string"}},"$k":["foo"]}}`),
	[]byte(`{"$s":{"p":{"foo":{"t":"string"}},"$k":["foo"]},"foo":"bar"}foo`),
	[]byte(`{"$s":{"p":{},"$k":[]},"foo":"bar"}`),
	[]byte(`{"$s":{"p":{"foo":{"t":"string"}},"$k":["foo"],"unknown":"field"},"foo":"bar"}`),
	[]byte(`{"$s":{"p":{"foo":{"t":"string"}},"$k":["foo"]},"foo":"bar","fizz":"buzz"}`),
	[]byte(`{"$s":{"p":{"foo":{"t":"string"}},"$k":["foo"]},"fizz":"buzz"}`),
	// keys in another order, duplicated, escaped, or spelled in another case
	[]byte(`{"$s":{"$k":["a"],"p":{"a":{"t":"int"}}},"a":1}`),
	[]byte(`{"a":1,"$s":{"p":{"a":{"t":"int"}},"$k":["a"]}}`),
	[]byte(`{"$s":{"p":{"a":{"t":"int"},"b":{"t":"int"}},"$k":["b","a"]},"b":2,"a":1}`),
	[]byte(`{"$s":{"p":{"a":{"t":"int"},"b":{"t":"int"}},"$k":["a","b"]},"b":2,"a":1}`),
	[]byte(`{"$s":{"p":{"a":{"t":"int"}},"$k":["a","a"]},"a":1,"a":2}`),
	[]byte(`{"$s":{"p":{"a":{"t":"int"},"a":{"t":"long"}},"$k":["a","b"]},"a":1,"b":2}`),
	[]byte(`{"$s":{"p":{"a":{"t":"int"},"a":{"t":"int"}},"$k":["a","a"]},"a":1,"a":2}`),
	[]byte(`{"$s":{"p":{"a":{"t":"int"},"a":{"t":"int"}},"$k":["a","a"]},"a":1,"b":2}`),
	[]byte(`{"$s":{"p":{"d":{"t":"object","$s":{"p":{"a":{"t":"int"},"a":{"t":"int"}},"$k":["a","a"]}}},"$k":["d"]},"d":{"a":1,"a":2}}`),
	[]byte(`{"$s":{"p":{"a":{"o":"x"}},"$k":["a"]},"a":null}`),
	[]byte(`{"$s":{"p":{"a":{"o":"x"}},"$k":["a"]},"a":"x"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"int"}},"$k":["a"]},"a":1,"a":2}`),
	[]byte(`{"$s":{"p":{"a":{"t":"int"}},"$k":["a"]},"a":1,"$s":{"p":{"a":{"t":"int"}},"$k":["a"]}}`),
	[]byte(`{"$s":{"p":{"$s":{"t":"int"}},"$k":["$s"]},"$s":1}`),
	[]byte(`{"$s":{"p":{"\u0061":{"t":"int"}},"$k":["a"]},"\u0061":1}`),
	[]byte(`{"$s":{"p":{"a":{"\u0074":"int"}},"$k":["a"]},"a":1}`),
	[]byte(`{"$s":{"p":{"a":{"T":"int"}},"$k":["a"]},"a":1}`),
	[]byte(`{"$s":{"P":{"a":{"t":"int"}},"$K":["a"]},"a":1}`),
	[]byte(`{"$s":{"p":{"a<b":{"t":"int"}},"$k":["a\u003cb"]},"a<b":1}`),
	[]byte(`{"$s":{"p":{"a\ud800":{"t":"int"}},"$k":["a\ufffd"]},"a` + "\xff" + `":1}`),
	// values null or missing for their elems, and elems missing what their type needs
	[]byte(`{"$s":{"p":{"a":null},"$k":["a"]},"a":null}`),
	[]byte(`{"$s":{"p":{"a":null},"$k":["a"]},"a":1}`),
	[]byte(`{"$s":{"p":{},"$k":["a"]},"a":null}`),
	[]byte(`{"$s":{"p":{"a":{"t":"int"}},"$k":["a"]},"a":null}`),
	[]byte(`{"$s":{"p":{"a":{"t":"null"}},"$k":["a"]},"a":null}`),
	[]byte(`{"$s":{"p":{"a":{"t":"null"}},"$k":["a"]},"a":0}`),
	[]byte(`{"$s":{"p":{"a":{"t":"nope"}},"$k":["a"]},"a":null}`),
	[]byte(`{"$s":{"p":{"a":{"t":"nope"}},"$k":["a"]},"a":1}`),
	[]byte(`{"$s":{"p":{"a":{}},"$k":["a"]},"a":1}`),
	[]byte(`{"$s":{"p":{"a":{"t":"object"}},"$k":["a"]},"a":{}}`),
	[]byte(`{"$s":{"p":{"a":{"t":"object","$s":{}}},"$k":["a"]},"a":{}}`),
	[]byte(`{"$s":{"p":{"a":{"t":"object","$s":{"p":{"b":{"t":"int"}},"$k":["b"]}}},"$k":["a"]},"a":{}}`),
	[]byte(`{"$s":{"p":{"a":{"t":"object","$s":{"p":{"b":{"t":"int"}},"$k":["b"]}}},"$k":["a"]},"a":{"b":1}}`),
	[]byte(`{"$s":{"p":{"a":{"t":"object","$s":{"p":{"b":{"t":"int"}},"$k":["b"]}}},"$k":["a"]},"a":{"b":1,"b":2}}`),
	[]byte(`{"$s":{"p":{"a":{"t":"object","$s":{"p":{"$s":{"t":"int"}},"$k":["$s"]}}},"$k":["a"]},"a":{"$s":1}}`),
	[]byte(`{"$s":{"p":{"a":{"t":"array"}},"$k":["a"]},"a":[]}`),
	[]byte(`{"$s":{"p":{"a":{"t":"array","i":[]}},"$k":["a"]},"a":[]}`),
	[]byte(`{"$s":{"p":{"a":{"t":"array","i":null}},"$k":["a"]},"a":[]}`),
	[]byte(`{"$s":{"p":{"a":{"t":"array","i":[null]}},"$k":["a"]},"a":[null]}`),
	[]byte(`{"$s":{"p":{"a":{"t":"array","i":[{"t":"int"}]}},"$k":["a"]},"a":[1,2]}`),
	[]byte(`{"$s":{"p":{"a":{"t":"array","i":[{"t":"int"},{"t":"int"}]}},"$k":["a"]},"a":[1]}`),
	[]byte(`{"$s":{"p":{"a":{"t":"binData"}},"$k":["a"]},"a":""}`),
	[]byte(`{"$s":{"p":{"a":{"t":"binData","s":256}},"$k":["a"]},"a":""}`),
	[]byte(`{"$s":{"p":{"a":{"t":"binData","s":1.0}},"$k":["a"]},"a":""}`),
	[]byte(`{"$s":{"p":{"a":{"t":"binData","s":-0}},"$k":["a"]},"a":""}`),
	[]byte(`{"$s":{"p":{"a":{"t":"binData","s":128}},"$k":["a"]},"a":"AAEC"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"binData","s":0}},"$k":["a"]},"a":"AA\r\nEC"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"binData","s":0}},"$k":["a"]},"a":"AAE"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"binData","s":0}},"$k":["a"]},"a":[1,2]}`),
	[]byte(`{"$s":{"p":{"a":{"t":"regex"}},"$k":["a"]},"a":"x"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"regex","o":""}},"$k":["a"]},"a":"x"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"regex","o":"\u0069m"}},"$k":["a"]},"a":"^x\\d$"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"string","o":"i","s":3,"i":[],"$s":{}}},"$k":["a"]},"a":"x"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"string","t":"int"}},"$k":["a"]},"a":1}`),
	// numbers
	[]byte(`{"$s":{"p":{"a":{"t":"double"}},"$k":["a"]},"a":-0}`),
	[]byte(`{"$s":{"p":{"a":{"t":"double"}},"$k":["a"]},"a":-0.0e0}`),
	[]byte(`{"$s":{"p":{"a":{"t":"double"}},"$k":["a"]},"a":1e400}`),
	[]byte(`{"$s":{"p":{"a":{"t":"double"}},"$k":["a"]},"a":1e-400}`),
	[]byte(`{"$s":{"p":{"a":{"t":"double"}},"$k":["a"]},"a":01}`),
	[]byte(`{"$s":{"p":{"a":{"t":"double"}},"$k":["a"]},"a":1.}`),
	[]byte(`{"$s":{"p":{"a":{"t":"double"}},"$k":["a"]},"a":.5}`),
	[]byte(`{"$s":{"p":{"a":{"t":"double"}},"$k":["a"]},"a":+1}`),
	[]byte(`{"$s":{"p":{"a":{"t":"double"}},"$k":["a"]},"a":Infinity}`),
	[]byte(`{"$s":{"p":{"a":{"t":"double"}},"$k":["a"]},"a":"1"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"double"}},"$k":["a"]},"a":12345678901234567890123}`),
	[]byte(`{"$s":{"p":{"a":{"t":"int"}},"$k":["a"]},"a":2147483648}`),
	[]byte(`{"$s":{"p":{"a":{"t":"int"}},"$k":["a"]},"a":-2147483648}`),
	[]byte(`{"$s":{"p":{"a":{"t":"int"}},"$k":["a"]},"a":1.0}`),
	[]byte(`{"$s":{"p":{"a":{"t":"int"}},"$k":["a"]},"a":1e2}`),
	[]byte(`{"$s":{"p":{"a":{"t":"int"}},"$k":["a"]},"a":-0}`),
	[]byte(`{"$s":{"p":{"a":{"t":"long"}},"$k":["a"]},"a":9223372036854775807}`),
	[]byte(`{"$s":{"p":{"a":{"t":"long"}},"$k":["a"]},"a":9223372036854775808}`),
	[]byte(`{"$s":{"p":{"a":{"t":"timestamp"}},"$k":["a"]},"a":18446744073709551615}`),
	[]byte(`{"$s":{"p":{"a":{"t":"timestamp"}},"$k":["a"]},"a":-0}`),
	[]byte(`{"$s":{"p":{"a":{"t":"timestamp"}},"$k":["a"]},"a":-1}`),
	[]byte(`{"$s":{"p":{"a":{"t":"date"}},"$k":["a"]},"a":-62135596800000}`),
	[]byte(`{"$s":{"p":{"a":{"t":"date"}},"$k":["a"]},"a":1.5}`),
	// strings
	[]byte(`{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"a":"\"\\\/\b\f\n\r\t\u00e9\u2028\ud83d\ude00"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"a":"\ud800"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"a":"\ud800\u0041"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"a":"\ude00\ud83d"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"a":"\ud83d\ud83d\ude00"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"a":"\uD83D\uDE00\uFFFD"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"a":"\u12"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"a":"\x"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"a":"` + "\x01" + `"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"a":"` + "\x7f\xff\xfe\xed\xa0\x80\xf0\x9f\x98" + `"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"a":"` + "é\xff\\n" + `"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"a":"日本語 ünïcödé 😀"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"a":"unterminated}`),
	[]byte(`{"$s":{"p":{"a":{"t":"objectId"}},"$k":["a"]},"a":"0102030405060708090A0b0c"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"objectId"}},"$k":["a"]},"a":"0102030405060708090a0b"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"objectId"}},"$k":["a"]},"a":"0102030405060708090a0b0g"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"objectId"}},"$k":["a"]},"a":"\u0030102030405060708090a0b0c"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"bool"}},"$k":["a"]},"a":true}`),
	[]byte(`{"$s":{"p":{"a":{"t":"bool"}},"$k":["a"]},"a":"true"}`),
	[]byte(`{"$s":{"p":{"a":{"t":"bool"}},"$k":["a"]},"a":tru}`),
}

func TestFastUnmarshalVectors(t *testing.T) {
	t.Parallel()

	for _, data := range vectorDocuments() {
		compareDecoders(t, data)
	}
}

// TestFastUnmarshalMarshaled checks that what sjson.Marshal writes decodes the same, and takes the
// fast path whenever the original accepts it, for random documents of every type. (Marshal writes
// top-level keys unescaped, so a key with a quote gives invalid JSON; and a top-level key "$s" is
// left to the original.)
func TestFastUnmarshalMarshaled(t *testing.T) {
	t.Parallel()

	rng := rand.New(rand.NewSource(1))
	valid := 0

	for range 5000 {
		doc := randomDocument(rng, 0)

		data, err := Marshal(doc)
		if err != nil {
			continue
		}

		if _, err = unmarshalOriginal(data); err == nil {
			valid++
		}

		if !compareDecoders(t, data) && err == nil && !doc.Has("$s") {
			t.Fatalf("a document sjson.Marshal wrote took the fallback: %q", data)
		}
	}

	if valid < 2500 {
		t.Fatalf("only %d valid documents: the generator is off", valid)
	}
}

// TestFastUnmarshalMutated compares the decoders on random damage to marshaled documents: most are
// errors, some are other valid documents.
func TestFastUnmarshalMutated(t *testing.T) {
	t.Parallel()

	rng := rand.New(rand.NewSource(2))

	for range 1000 {
		data, err := Marshal(randomDocument(rng, 0))
		if err != nil {
			continue
		}

		for range 20 {
			compareDecoders(t, mutate(rng, data))
		}
	}
}

// TestFastUnmarshalConcurrent decodes from several goroutines at once, through the shared schema
// cache (and its resets: more schemas than it keeps); run with -race to check the locking.
func TestFastUnmarshalConcurrent(t *testing.T) {
	t.Parallel()

	rng := rand.New(rand.NewSource(4))

	var docs [][]byte
	for len(docs) < schemaCacheEntries+200 {
		if data, err := Marshal(randomDocument(rng, 0)); err == nil {
			docs = append(docs, data)
		}
	}

	var wg sync.WaitGroup

	for worker := range 4 {
		wg.Add(1)

		go func() {
			defer wg.Done()

			for i := range 3 * len(docs) {
				data := docs[(i*(worker+1))%len(docs)]
				want, wantErr := unmarshalOriginal(data)
				got, gotErr := Unmarshal(data)

				if (wantErr == nil) != (gotErr == nil) || !sameValue(want, got) {
					t.Errorf("different results for %q", data)
					return
				}
			}
		}()
	}

	wg.Wait()
}

func FuzzFastUnmarshal(f *testing.F) {
	for _, data := range vectorDocuments() {
		f.Add(data)
	}

	rng := rand.New(rand.NewSource(3))
	for range 50 {
		if data, err := Marshal(randomDocument(rng, 0)); err == nil {
			f.Add(data)
		}
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		compareDecoders(t, data)
	})
}

// randomDocument makes a document of random fields, nested at most three levels.
func randomDocument(rng *rand.Rand, depth int) *types.Document {
	doc := types.MakeDocument(0)

	for range rng.Intn(6) {
		doc.Set(randomKey(rng), randomValue(rng, depth))
	}

	return doc
}

func randomValue(rng *rand.Rand, depth int) any {
	kind := rng.Intn(16)
	if depth >= 3 && kind < 2 {
		kind += 2
	}

	switch kind {
	case 0:
		return randomDocument(rng, depth+1)
	case 1:
		arr := types.MakeArray(0)
		for range rng.Intn(5) {
			arr.Append(randomValue(rng, depth+1))
		}

		return arr
	case 2:
		return randomFloat(rng)
	case 3, 4:
		return randomString(rng)
	case 5:
		b := make([]byte, rng.Intn(12))
		rng.Read(b)

		return types.Binary{B: b, Subtype: types.BinarySubtype(rng.Intn(256))}
	case 6:
		var id types.ObjectID
		rng.Read(id[:])

		return id
	case 7:
		return rng.Intn(2) == 0
	case 8:
		return time.UnixMilli(rng.Int63n(1<<46) - 1<<45)
	case 9:
		return types.Null
	case 10:
		return types.Regex{Pattern: randomString(rng), Options: []string{"", "i", "ims", "x"}[rng.Intn(4)]}
	case 11, 12:
		return []int32{0, 1, -1, math.MaxInt32, math.MinInt32, rng.Int31(), -rng.Int31()}[rng.Intn(7)]
	case 13:
		return types.Timestamp(rng.Uint64() >> rng.Intn(64))
	default:
		return []int64{0, -1, math.MaxInt64, math.MinInt64, rng.Int63(), -rng.Int63() >> rng.Intn(63)}[rng.Intn(6)]
	}
}

func randomFloat(rng *rand.Rand) float64 {
	special := []float64{
		0, math.Copysign(0, -1), 1, -1.5, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64,
		1e21, 1e-7, 123456789012345678, 2 << 60, 0.1,
	}
	if rng.Intn(2) == 0 {
		return special[rng.Intn(len(special))]
	}

	return math.Float64frombits(rng.Uint64()&^(0x7ff<<52) | uint64(rng.Intn(0x7ff))<<52) // finite
}

// randomKey is mostly a plain field name, sometimes one that needs escaping or is not UTF-8.
func randomKey(rng *rand.Rand) string {
	if rng.Intn(4) > 0 {
		return []string{"_id", "status", "a", "b", "created_at", "$s", "$k", "p", "t", "", "é"}[rng.Intn(11)]
	}

	return randomString(rng)
}

// randomString draws from text that JSON escapes in every way, multi-byte and invalid UTF-8.
func randomString(rng *rand.Rand) string {
	pieces := []string{
		"a", "job", " ", "\"", "\\", "/", "\n", "\t", "\x00", "\x1f", "<", ">", "&", "\u2028", "é", "日本",
		"😀", "\xff", "\xed\xa0\x80", "\ufffd", "\u007f", "$", ".",
	}

	var sb strings.Builder
	for range rng.Intn(8) {
		sb.WriteString(pieces[rng.Intn(len(pieces))])
	}

	return sb.String()
}

// mutate damages data at one random place.
func mutate(rng *rand.Rand, data []byte) []byte {
	out := bytes.Clone(data)
	if len(out) == 0 {
		return out
	}

	i := rng.Intn(len(out))
	alphabet := []byte(`{}[]:,"\ 0123456789-+.eEtrufalsn$pkiosu` + "\xff\n")

	switch rng.Intn(6) {
	case 0:
		return append(out[:i], out[i+1:]...)
	case 1:
		return append(out[:i], append([]byte{alphabet[rng.Intn(len(alphabet))]}, out[i:]...)...)
	case 2:
		out[i] = alphabet[rng.Intn(len(alphabet))]
	case 3:
		j := i + rng.Intn(len(out)-i)
		return append(out[:j], append(bytes.Clone(data[i:j]), out[j:]...)...) // a repeated stretch
	case 4:
		j := i + rng.Intn(len(out)-i)
		return append(out[:i], out[j:]...)
	default:
		if isDigit(out[i]) {
			out[i] = "0123456789"[rng.Intn(10)]
		}
	}

	return out
}

// jobDocument is shaped like AI Spark's jobs: about 4 KB of sjson, nested documents and arrays.
func jobDocument() *types.Document {
	steps := types.MakeArray(0)
	for i := range 12 {
		steps.Append(must.NotFail(types.NewDocument(
			"name", fmt.Sprintf("step %d: writing events.otio", i),
			"at", time.UnixMilli(1_700_000_000_000+int64(i)*1000),
			"progress", float64(i)/12,
			"count", int32(i*100),
		)))
	}

	return must.NotFail(types.NewDocument(
		"_id", types.ObjectID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
		"kind", "export",
		"status", "done",
		"lease_token", "0b6f3c2e-9a41-4f7e-b6a2-1f0c2d3e4f5a",
		"attempts", int32(1),
		"created_at", time.UnixMilli(1_700_000_000_000),
		"updated_at", time.UnixMilli(1_700_000_100_000),
		"params", must.NotFail(types.NewDocument(
			"project", "Spark \"launch\" film <final>",
			"formats", must.NotFail(types.NewArray("otio", "edl", "fcpxml", "csv")),
			"frame_rate", 23.976,
			"start", int64(86400),
			"options", must.NotFail(types.NewDocument("zip", true, "level", int32(1), "note", types.Null)),
		)),
		"steps", steps,
		"result", must.NotFail(types.NewDocument(
			"files", int32(5),
			"bytes", int64(123456789),
			"warnings", must.NotFail(types.NewArray("event 12: negative start repaired", "événement 13 ignoré")),
		)),
	))
}

func BenchmarkUnmarshalJob(b *testing.B) {
	data := must.NotFail(Marshal(jobDocument()))

	for name, decode := range map[string]func([]byte) (*types.Document, error){
		"Original": unmarshalOriginal,
		"Fast":     Unmarshal,
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))

			for range b.N {
				if _, err := decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
