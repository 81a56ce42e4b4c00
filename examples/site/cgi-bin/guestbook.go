// guestbook.go is a Go CGI script that cgihttpd runs in-process (no fork) with yaegi.
// GET shows a form; POST validates it and answers with the entry, escaped by html/template.
// Nothing is stored: in-process scripts run as the server's own user, so this one writes
// no files.
package main

import (
	"fmt"
	"html/template"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
)

const page = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Guestbook (in-process Go)</title>
<link rel="stylesheet" href="/style.css">
</head><body><main>
<h1>Guestbook</h1>
<p>This page is a Go program interpreted inside the server: no process was started for it.</p>
{{if .Problem}}<p class="note"><strong>{{.Problem}}</strong></p>{{end}}
{{if .Name}}<p>Thanks, <strong>{{.Name}}</strong>! You wrote:</p><blockquote>{{.Message}}</blockquote>{{end}}
<form method="post" action="{{.Self}}">
<p><label>Name <input name="name" maxlength="60" value="{{.Name}}"></label></p>
<p><label>Message <textarea name="message" rows="3" maxlength="500">{{.Message}}</textarea></label></p>
<p><button type="submit">Sign</button></p>
</form>
<p><a href="/">&larr; Back to the example site</a></p>
</main></body></html>
`

type view struct {
	Self, Name, Message, Problem string
}

func main() {
	v := view{Self: os.Getenv("SCRIPT_NAME")}
	status := "200 OK"
	switch os.Getenv("REQUEST_METHOD") {
	case "GET", "HEAD":
	case "POST":
		form, err := readForm()
		if err != nil {
			status, v.Problem = "400 Bad Request", err.Error()
			break
		}
		v.Name = strings.TrimSpace(form.Get("name"))
		v.Message = strings.TrimSpace(form.Get("message"))
		if v.Name == "" || v.Message == "" {
			status, v.Problem = "422 Unprocessable Entity", "Please give both a name and a message."
			v.Name, v.Message = "", ""
		}
	default:
		fmt.Print("Status: 405 Method Not Allowed\nAllow: GET, HEAD, POST\nContent-Type: text/plain\n\nmethod not allowed\n")
		return
	}
	fmt.Printf("Status: %s\nContent-Type: text/html; charset=utf-8\n\n", status)
	if os.Getenv("REQUEST_METHOD") == "HEAD" {
		return
	}
	t := template.Must(template.New("page").Parse(page))
	if err := t.Execute(os.Stdout, v); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
	}
}

// readForm reads an application/x-www-form-urlencoded body of at most 8 KiB.
func readForm() (url.Values, error) {
	if ct := os.Getenv("CONTENT_TYPE"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, fmt.Errorf("unsupported content type %q", ct)
	}
	n, err := strconv.Atoi(os.Getenv("CONTENT_LENGTH"))
	if err != nil || n < 0 || n > 8<<10 {
		return nil, fmt.Errorf("the form must be sent with a length of at most 8 KiB")
	}
	body, err := io.ReadAll(io.LimitReader(os.Stdin, int64(n)))
	if err != nil {
		return nil, fmt.Errorf("reading the form: %w", err)
	}
	return url.ParseQuery(string(body))
}
