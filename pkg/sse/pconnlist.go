package sse

// pconnList is a shard's responses in order of their last write, oldest
// first: an intrusive doubly linked list, so that a write moves its
// response to the back in O(1) and the heartbeats due are at the front.
// The zero value is empty. Owned by the shard's goroutine.
type pconnList struct {
	head, tail *pconn
}

func (l *pconnList) pushBack(c *pconn) {
	c.prev, c.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = c
	} else {
		l.head = c
	}
	l.tail = c
	c.listed = true
}

func (l *pconnList) remove(c *pconn) {
	if !c.listed {
		return
	}
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next, c.listed = nil, nil, false
}

func (l *pconnList) moveToBack(c *pconn) {
	if c.listed && l.tail == c {
		return
	}
	l.remove(c)
	l.pushBack(c)
}

// all returns the listed responses, oldest first.
func (l *pconnList) all() []*pconn {
	var out []*pconn
	for c := l.head; c != nil; c = c.next {
		out = append(out, c)
	}
	return out
}
