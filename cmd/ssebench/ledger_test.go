package main

import (
	"slices"
	"testing"
)

func TestReceivedKeepsIDsAndCountsRepeats(t *testing.T) {
	var rc received
	for _, id := range []string{"ep-3", "ep-9", "ep-9", "ep-5", "ep-3", "other-4", "opaque", "ep-12"} {
		rc.see([]byte(id))
	}
	if !slices.Equal(rc.seqs, []uint64{3, 5, 9, 12}) || rc.dup != 2 || rc.other != 2 || string(rc.prefix) != "ep-" {
		t.Fatalf("%+v", rc)
	}
}

// A subscriber following sensor 1 is owed the readings of sensor 1 sent
// from its connection on; readings of other sensors are counted apart.
func TestLedgerAccountsPerSensorSinceConnect(t *testing.T) {
	var posts []post
	for k := range 12 { // sensors 0, 1, 2 in turn, sent at 100, 110, …; k+1 is the ID
		posts = append(posts, post{sensor: int32(k % 3), status: 202, seq: uint64(k + 1), sent: int64(100 + 10*k), acked: int64(105 + 10*k)})
	}
	posts[4].status = 429                   // sensor 1's post at 140: refused, owed to nobody
	posts[7], posts[8] = posts[8], posts[7] // answers arrive out of order
	l := newLedger(posts, 3, "ep-")
	// sensor 1's accepted: IDs 2 (sent 110), 8 (170), 11 (200)
	rc := &received{}
	for _, id := range []string{"ep-2", "ep-8", "ep-9", "ep-99"} { // 2: sent before it connected; 9: sensor 2's; 99: not the poster's
		rc.see([]byte(id))
	}
	exp, got, foreign := l.account(1, 120, rc)
	if exp != 2 || got != 1 || foreign != 1 {
		t.Fatalf("expected %d got %d foreign %d; want 2 1 1", exp, got, foreign)
	}
	// unfiltered: everything accepted sent at or after 170 (IDs 8…12, 5 of them)
	exp, got, foreign = l.account(-1, 170, rc)
	if exp != 5 || got != 2 || foreign != 0 {
		t.Fatalf("unfiltered: expected %d got %d foreign %d; want 5 2 0", exp, got, foreign)
	}
	// another epoch: nothing received counts
	other := &received{}
	other.see([]byte("new-8"))
	if exp, got, _ := l.account(1, 0, other); exp != 3 || got != 0 {
		t.Fatalf("other epoch: expected %d got %d", exp, got)
	}
	if exp, _, _ := l.account(7, 0, rc); exp != 0 {
		t.Fatal("a sensor nobody posted for")
	}
}
