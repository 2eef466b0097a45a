package mirror

// Follower is a store's place in its backend's log of revocations, and the
// rule that finds the entries it missed. Each entry of the log names the
// entry written before it (its "prev"), so that a follower that applies the
// entries in order can check that each one continues from the last it
// applied. When one does not, entries in between never reached this store:
// the log was trimmed past its place, emptied, or replaced (a backend
// restarted without its data, a failover to a replica that lagged). The
// follower then reports a gap, which only a full read of the backend can
// fill, and confirms nothing until Restart says one has.
//
// Positions are the backend's own entry ids, compared only for equality;
// "0-0" or "" may stand for "before the first entry" as long as the writer
// uses the same value as prev of a log's first entry.
//
// A Follower is owned by one goroutine, the one that reads the log; it is
// not safe for concurrent use.
type Follower struct {
	fresh *Freshness
	pos   string
	gap   bool
}

// NewFollower returns a Follower that confirms through fresh. It has a gap
// until the first Restart: a store starts with a full read.
func NewFollower(fresh *Freshness) *Follower {
	return &Follower{fresh: fresh, gap: true}
}

// Restart records that a full read has filled the mirror with every record
// the backend held when it began, and that the log ended at pos when it
// began, so that reading goes on from there. The read must have begun after
// any gap it fills was reported.
func (f *Follower) Restart(pos string) { f.pos, f.gap = pos, false }

// Pos returns the id of the last entry applied, where the next read starts.
func (f *Follower) Pos() string { return f.pos }

// Advance records that the entry at pos, whose writer named prev as the
// entry before it, has been applied to the mirror (entries are applied
// whatever Advance says: records only grow). It reports false when prev is
// not the last entry applied, a gap; Gap is then true until Restart.
func (f *Follower) Advance(prev, pos string) bool {
	ok := prev == f.pos
	if !ok {
		f.gap = true
	}
	f.pos = pos
	return ok
}

// Break records a gap that the backend found by other means, such as a log
// that now ends before the follower's place.
func (f *Follower) Break() { f.gap = true }

// Gap reports whether entries may have been missed since the last Restart,
// so that a full read is needed.
func (f *Follower) Gap() bool { return f.gap }

// CaughtUp records that a read of the log sent at sent returned every entry
// the log held then, and confirms the mirror current as of sent, unless
// there is a gap.
func (f *Follower) CaughtUp(sent Instant) {
	if !f.gap {
		f.fresh.Confirm(sent)
	}
}
