package executor

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
)

func TestRecordsRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	rw := newRecordWriter(&buf)
	big := bytes.Repeat([]byte("x"), fcgiMaxContent+10)
	var params []byte
	params = appendParam(params, "SHORT", "v")
	params = appendParam(params, string(bytes.Repeat([]byte("N"), 200)), string(big[:300]))
	for _, r := range []struct {
		typ     uint8
		content []byte
	}{{fcgiParams, params}, {fcgiStdout, big}, {fcgiStdout, nil}, {fcgiEndRequest, endRequestBody(-1, endRejected, "no")}} {
		if err := rw.write(r.typ, 7, r.content); err != nil {
			t.Fatal(err)
		}
	}
	rr := newRecordReader(&buf)
	var got []record
	for {
		rec, err := rr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rec.content = slices.Clone(rec.content)
		got = append(got, rec)
	}
	if len(got) != 5 || got[1].typ != fcgiStdout || len(got[1].content) != fcgiMaxContent || len(got[2].content) != 10 || len(got[3].content) != 0 {
		t.Fatalf("records: %+v", got)
	}
	var names []string
	if err := parseParams(got[0].content, func(n, v string) { names = append(names, n+"="+v[:1]) }); err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || names[0] != "SHORT=v" || len(names[1]) != 202 {
		t.Fatalf("params: %q", names)
	}
	ev, err := decodeWorkerRecord(got[4])
	if err != nil || ev.status != -1 || ev.proto != endRejected || ev.msg != "no" {
		t.Fatalf("end request: %+v, %v", ev, err)
	}
}

// FuzzWorkerRecords feeds arbitrary bytes, as a hostile worker could send them, through
// the server's side of the channel: it must never panic, and what it accepts is within the
// protocol's bounds.
func FuzzWorkerRecords(f *testing.F) {
	var seed bytes.Buffer
	rw := newRecordWriter(&seed)
	_ = rw.write(fcgiStdout, 1, []byte("Content-Type: text/plain\r\n\r\nhi"))
	_ = rw.write(fcgiStderr, 1, []byte("oops\n"))
	_ = rw.write(fcgiEndRequest, 1, endRequestBody(3, endComplete, ""))
	f.Add(seed.Bytes())
	f.Add([]byte{1, 3, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 99, 0, 0, 0})
	f.Add([]byte{1, 6, 0, 1, 255, 255, 255, 0})
	f.Add([]byte{2, 6, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		rr := newRecordReader(bytes.NewReader(data))
		for {
			rec, err := rr.next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, errProtocol) {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			ev, err := decodeWorkerRecord(rec)
			if err != nil {
				if !errors.Is(err, errProtocol) {
					t.Fatalf("unexpected error: %v", err)
				}
				continue
			}
			switch {
			case ev.id == 0:
				t.Fatal("accepted request 0")
			case len(ev.data) > fcgiMaxContent, len(ev.msg) > maxEndMessage:
				t.Fatalf("accepted an oversized record: %d, %d", len(ev.data), len(ev.msg))
			case ev.typ != fcgiStdout && ev.typ != fcgiStderr && ev.typ != fcgiEndRequest:
				t.Fatalf("accepted record type %d", ev.typ)
			}
		}
	})
}
