package ca

import (
	"context"
	"sync"

	"github.com/sigilhq/sigil/internal/store"
)

// seqBlockSize is how many certificate sequence numbers a node reserves at
// a time for partitioned CRLs: one extra write per this many issuances.
const seqBlockSize = 100

// partitioner assigns certificates of CAs with partitioned CRLs to
// partitions. Every certificate gets the next number of a per-CA sequence;
// partition n holds numbers ((n-1)·size, n·size]. Each node reserves blocks
// of numbers so that issuing does not contend on one counter; numbers a
// node reserved but did not use (it stopped) leave a partition slightly
// under-filled, never over-filled.
type partitioner struct {
	mu      sync.Mutex
	blocks  map[string]*seqBlock
	ensured map[partitionKey]int64 // CA record version for which the row was ensured
}

type seqBlock struct{ next, end int64 } // [next, end)

type partitionKey struct {
	ca        string
	partition int64
}

// nextPartition returns the partition of the CA's next certificate.
func (s *Service) nextPartition(ctx context.Context, caID string) (int64, error) {
	size := s.opts.Revocation.PartitionSize
	p := &s.parts
	p.mu.Lock()
	if b := p.blocks[caID]; b != nil && b.next < b.end {
		seq := b.next
		b.next++
		p.mu.Unlock()
		return 1 + (seq-1)/size, nil
	}
	p.mu.Unlock()
	n := min(int64(seqBlockSize), size)
	var first int64
	err := s.store.Update(ctx, func(tx store.Tx) (err error) {
		first, err = tx.Sequences().Reserve(ctx, caID, "certificate", n)
		return err
	})
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	if len(p.blocks) > 10000 {
		clear(p.blocks)
	}
	p.blocks[caID] = &seqBlock{next: first + 1, end: first + n}
	p.mu.Unlock()
	return 1 + (first-1)/size, nil
}

// needsEnsure reports whether this node has not yet made sure the CRL row of
// a partition exists under this version of the CA record. (Keying by
// version means a configuration change, which may have rescheduled rows,
// makes the node check again.)
func (p *partitioner) needsEnsure(caID string, partition, version int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ensured[partitionKey{caID, partition}] != version
}

func (p *partitioner) markEnsured(caID string, partition, version int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ensured) > 100000 {
		clear(p.ensured)
	}
	p.ensured[partitionKey{caID, partition}] = version
}
