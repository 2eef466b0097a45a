package authix

// Held reports how many entries m holds, expired or not, without sweeping:
// the memory the store uses, which the model test bounds.
func (m *MemoryStore) Held() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		n += s.count
		s.mu.RUnlock()
	}
	return n
}

// RaceEnabled reports whether the tests run under the race detector.
const RaceEnabled = raceEnabled
