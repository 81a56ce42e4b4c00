package server

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// TestReqLogJoinsFieldsWhenWriting: a line carries the request's fields in order, then its
// own; with does not change the logger it came from; a level below the base's writes nothing.
func TestReqLogJoinsFieldsWhenWriting(t *testing.T) {
	var out bytes.Buffer
	base := hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Info, DisableTime: true})
	log := reqLog{base: base, fields: []any{"req_id", 7}}
	scripted := log.with("script", "/cgi-bin/a")
	_ = scripted.with("pid", 42) // must not leak into scripted
	scripted.Info("ran", "exit", 0)
	log.Warn("plain")
	scripted.Debug("hidden")
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"[INFO]  ran: req_id=7 script=/cgi-bin/a exit=0",
		"[WARN]  plain: req_id=7",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
	}
}
