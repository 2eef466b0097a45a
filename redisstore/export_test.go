package redisstore

// Fresh reports whether IsRevoked currently answers misses from the local
// mirror without asking Redis.
func (s *Store) Fresh() bool { return !s.stale.Load() }
