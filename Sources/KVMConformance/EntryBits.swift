import GeneratedMMU

/// The masks of the paging-entry fields that the runner and the case generator write, read by
/// name from a level of a format lowered from the specs (the `ia32e-entry` layout of
/// `specs/paging/entries.yaml`), so that no bit position is written here.
struct EntryBits: Sendable {
    /// Present.
    var present: UInt64
    /// Read/write.
    var writable: UInt64
    /// User/supervisor.
    var user: UInt64
    /// Accessed.
    var accessed: UInt64
    /// Dirty.
    var dirty: UInt64
    /// Page size (PAT in a 4 KiB PTE).
    var pageSize: UInt64
    /// Execute-disable.
    var executeDisable: UInt64
    /// Protection key.
    var key: UInt64
    /// The address of the next table or of the page.
    var address: UInt64
    /// Bits that no field of the layout names (ignored by the processor), plus the caching and
    /// global fields: bits a walk must not care about.
    var inert: UInt64

    /// A field of the layout is missing.
    struct Missing: Error, CustomStringConvertible {
        var field: String
        var level: String
        var description: String { "the specs' \(level) entry has no field '\(field)'" }
    }

    /// Reads the masks from `level`'s field list.
    init(_ level: LevelDescriptor) throws {
        func mask(_ name: String) throws -> UInt64 {
            guard let f = level.fields.first(where: { $0.name == name }) else {
                throw Missing(field: name, level: level.name)
            }
            let ones: UInt64 = f.width >= 64 ? ~0 : (1 << UInt64(f.width)) - 1
            return ones << UInt64(f.shift)
        }
        present = try mask("P")
        writable = try mask("RW")
        user = try mask("US")
        accessed = level.accessedMask
        dirty = level.dirtyMask
        pageSize = try mask("PS")
        executeDisable = try mask("XD")
        key = level.keyMask
        address = level.addressMask
        let named = level.fields.reduce(UInt64(0)) { m, f in
            m | ((f.width >= 64 ? ~0 : (1 << UInt64(f.width)) - 1) << UInt64(f.shift))
        }
        inert = ~named | ["PWT", "PCD", "G"].reduce(UInt64(0)) { m, name in m | ((try? mask(name)) ?? 0) }
    }

    /// `value` placed in the protection-key field.
    func key(_ value: UInt64) -> UInt64 {
        key == 0 ? 0 : (value << UInt64(key.trailingZeroBitCount)) & key
    }
}

extension PagingFormatDescriptor {
    /// Whether the runner's 64-bit guest can run walks of this format: IA-32e paging, whose
    /// entries are 8 bytes and whose linear addresses are canonical.
    var isLongModeGuestFormat: Bool {
        family == .guest && canonical && levels.count >= 4 && levels.allSatisfy { $0.entryBytes == 8 }
    }

    /// The bytes a level-`depth` entry maps when it is a leaf.
    func pageBytes(depth: Int) -> UInt64 { 1 << UInt64(levels[depth].indexShift) }

    /// The index of `linear` into the level-`depth` table.
    func index(_ linear: UInt64, depth: Int) -> UInt64 {
        (linear >> UInt64(levels[depth].indexShift)) & ((1 << UInt64(levels[depth].indexBits)) - 1)
    }

    /// Sign-extends `linear` from the format's address width, as canonical addresses are.
    func canonical(_ linear: UInt64) -> UInt64 {
        let bits = UInt64(addressBits)
        guard canonical, bits < 64 else { return linear }
        return (linear >> (bits - 1)) & 1 != 0 ? linear | (~0 << bits) : linear & ((1 << bits) - 1)
    }
}
