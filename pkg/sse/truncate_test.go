package sse

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

var _ http.Handler = (*Handler)(nil)

func TestTruncateKeepsUTF8Whole(t *testing.T) {
	s := strings.Repeat("€", 50) // 3 bytes each
	got := truncate(s, 128)
	if len(got) != 126 || !utf8.ValidString(got) {
		t.Fatalf("truncate gave %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if truncate("abc", 128) != "abc" {
		t.Fatal("short string changed")
	}
}
