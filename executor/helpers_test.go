package executor_test

import (
	"errors"
	"io"
)

// failingWriter is a client that has gone away.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("client gone") }

// blockingBody is a request body whose client never sends anything.
type blockingBody struct{ closed chan struct{} }

func (b *blockingBody) Read([]byte) (int, error) {
	<-b.closed
	return 0, io.ErrUnexpectedEOF
}

func (b *blockingBody) Close() error {
	close(b.closed)
	return nil
}
