package ring_test

import (
	"fmt"
	"sync"

	"github.com/hopwire/hopwire/ring"
)

func ExampleMPSC() {
	inbox := ring.NewMPSC[string](3) // rounded up to 4
	fmt.Println("capacity", inbox.Cap())

	// Push never blocks: a full mailbox is reported, and the caller
	// decides what to drop.
	for _, m := range []string{"a", "b", "c", "d", "e"} {
		if !inbox.Push(m) {
			fmt.Println("full, dropped", m)
		}
	}
	// Only the loop goroutine pops.
	for m, ok := inbox.Pop(); ok; m, ok = inbox.Pop() {
		fmt.Println("got", m)
	}

	// Many goroutines may push at once.
	counts := ring.NewMPSC[int](64)
	var wg sync.WaitGroup
	for p := 1; p <= 4; p++ {
		wg.Go(func() { counts.Push(p) })
	}
	wg.Wait()
	sum := 0
	for n, ok := counts.Pop(); ok; n, ok = counts.Pop() {
		sum += n
	}
	fmt.Println("sum", sum)

	// Output:
	// capacity 4
	// full, dropped e
	// got a
	// got b
	// got c
	// got d
	// sum 10
}
