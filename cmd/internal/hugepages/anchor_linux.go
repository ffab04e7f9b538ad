package hugepages

import "unsafe"

// heapAnchor is an object on the Go heap whose address locates the heap
// among the process's mappings (HeapMappings). It holds pointers so that it
// is never batched with other tiny objects.
type heapAnchor struct {
	_ [8]*byte
}

// addr returns the anchor's address, used as a number only.
func (h *heapAnchor) addr() uintptr { return uintptr(unsafe.Pointer(h)) }

// sliceAddr returns the address of b's first byte, as a number only.
func sliceAddr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
