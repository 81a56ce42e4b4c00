package server

import "github.com/hashicorp/go-hclog"

// reqLog is one request's logger: a base logger and the request's fields, joined only when
// a line is written. hclog's With copies the logger and its fields each time, which cost a
// CGI request about 14 allocations whether or not anything was logged.
type reqLog struct {
	base   hclog.Logger
	fields []any
}

// with returns l with more fields; l itself is unchanged.
func (l reqLog) with(kv ...any) reqLog {
	return reqLog{base: l.base, fields: append(l.fields[:len(l.fields):len(l.fields)], kv...)}
}

func (l reqLog) args(kv []any) []any {
	return append(l.fields[:len(l.fields):len(l.fields)], kv...)
}

func (l reqLog) Debug(msg string, kv ...any) {
	if l.base.IsDebug() {
		l.base.Debug(msg, l.args(kv)...)
	}
}

func (l reqLog) Info(msg string, kv ...any) {
	if l.base.IsInfo() {
		l.base.Info(msg, l.args(kv)...)
	}
}

func (l reqLog) Warn(msg string, kv ...any) {
	if l.base.IsWarn() {
		l.base.Warn(msg, l.args(kv)...)
	}
}

func (l reqLog) Error(msg string, kv ...any) {
	if l.base.IsError() {
		l.base.Error(msg, l.args(kv)...)
	}
}
