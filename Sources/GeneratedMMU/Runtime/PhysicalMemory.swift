import CMemoryAtomics

/// Physical memory as the walker sees it: aligned loads and atomic compare-exchange.
///
/// The walker is generic over this protocol and specialised for each implementation, so a flat
/// buffer costs a bounds check and a load. A load outside the memory returns `nil`: the walker
/// reports that as ``WalkOutcome/outsideMemory(_:)``, never a crash, whatever the guest's tables say.
public protocol PhysicalMemory {
    /// The 8-byte little-endian word at `address` (8-aligned), or `nil` outside the memory.
    func load64(_ address: UInt64) -> UInt64?
    /// The 4-byte word at `address` (4-aligned), or `nil` outside the memory.
    func load32(_ address: UInt64) -> UInt32?
    /// Atomically replaces `expected` with `desired`; false if the word had changed or is outside.
    func compareExchange64(_ address: UInt64, expected: UInt64, desired: UInt64) -> Bool
    /// Atomically replaces `expected` with `desired`; false if the word had changed or is outside.
    func compareExchange32(_ address: UInt64, expected: UInt32, desired: UInt32) -> Bool
}

/// Guest RAM as one contiguous host buffer starting at guest-physical (or host-physical) 0.
///
/// The buffer is borrowed: the caller keeps it alive while walks run. Accessed and dirty updates
/// use the processor's atomic compare-exchange, so concurrent walkers and guest writers are safe.
public struct FlatMemory: PhysicalMemory, @unchecked Sendable {
    /// The buffer.
    public let base: UnsafeMutableRawPointer
    /// Its size in bytes.
    public let size: UInt64
    /// 8- and 4-byte words fit at addresses below these (0 when none does): one compare per access.
    @usableFromInline let limit64: UInt64
    @usableFromInline let limit32: UInt64

    /// Wraps a buffer.
    public init(base: UnsafeMutableRawPointer, size: Int) {
        self.base = base
        self.size = UInt64(size)
        limit64 = size >= 8 ? UInt64(size) - 7 : 0
        limit32 = size >= 4 ? UInt64(size) - 3 : 0
    }

    /// The 8-byte little-endian word at `address`, or nil outside the buffer.
    @inlinable
    public func load64(_ address: UInt64) -> UInt64? {
        guard address < limit64 else { return nil }
        return UInt64(littleEndian: specc_load64(base + Int(bitPattern: UInt(address))))
    }

    /// The 4-byte little-endian word at `address`, or nil outside the buffer.
    @inlinable
    public func load32(_ address: UInt64) -> UInt32? {
        guard address < limit32 else { return nil }
        return UInt32(littleEndian: specc_load32(base + Int(bitPattern: UInt(address))))
    }

    /// Atomically replaces the 8-byte `expected` with `desired`; false if it had changed or is outside.
    @inlinable
    public func compareExchange64(_ address: UInt64, expected: UInt64, desired: UInt64) -> Bool {
        guard address < limit64 else { return false }
        return specc_cas64(base + Int(bitPattern: UInt(address)), expected.littleEndian, desired.littleEndian)
    }

    /// Atomically replaces the 4-byte `expected` with `desired`; false if it had changed or is outside.
    @inlinable
    public func compareExchange32(_ address: UInt64, expected: UInt32, desired: UInt32) -> Bool {
        guard address < limit32 else { return false }
        return specc_cas32(base + Int(bitPattern: UInt(address)), expected.littleEndian, desired.littleEndian)
    }
}

/// A sparse memory of 8-byte words (every other byte reads as zero), as walk cases describe it.
/// Records every word the walker changed.
public final class SparseMemory: PhysicalMemory {
    /// The words, by 8-aligned address.
    public private(set) var words: [UInt64: UInt64]
    /// Words changed by walks, with their new values.
    public private(set) var writes: [UInt64: UInt64] = [:]

    /// Creates a memory holding `words`.
    public init(_ words: [UInt64: UInt64] = [:]) { self.words = words }

    /// The word at `address` rounded down to 8 bytes; absent words read as zero.
    public func load64(_ address: UInt64) -> UInt64? { words[address & ~7] ?? 0 }

    /// The 4-byte half (by bit 2) of the word at `address`; absent words read as zero.
    public func load32(_ address: UInt64) -> UInt32? {
        let word = words[address & ~7] ?? 0
        return UInt32(truncatingIfNeeded: word >> ((address & 4) * 8))
    }

    /// Replaces the 8-byte `expected` with `desired` and records the write; false if the word differs.
    public func compareExchange64(_ address: UInt64, expected: UInt64, desired: UInt64) -> Bool {
        let a = address & ~7
        guard (words[a] ?? 0) == expected else { return false }
        words[a] = desired
        writes[a] = desired
        return true
    }

    /// Replaces the 4-byte `expected` with `desired` and records the word; false if it differs.
    public func compareExchange32(_ address: UInt64, expected: UInt32, desired: UInt32) -> Bool {
        let a = address & ~7
        let shift = (address & 4) * 8
        let word = words[a] ?? 0
        guard UInt32(truncatingIfNeeded: word >> shift) == expected else { return false }
        let updated = (word & ~(0xFFFF_FFFF << shift)) | (UInt64(desired) << shift)
        words[a] = updated
        writes[a] = updated
        return true
    }

    /// Writes a word directly (a guest store), not recorded as a walker write.
    public func store64(_ address: UInt64, _ value: UInt64) { words[address & ~7] = value }

    /// Forgets recorded walker writes.
    public func clearWrites() { writes = [:] }
}
