import GeneratedMMU
import SpecParser

/// The facts of the specs that the runner uses, looked up once by name: register fields it sets or
/// clears, the CPUID fields it edits, and the features that change paging-entry semantics.
struct SpecFacts {
    /// A spec name the runner needs is missing.
    struct Missing: Error, CustomStringConvertible {
        var name: String
        var description: String { "the specs define no \(name)" }
    }

    let specs: SpecSet
    /// EFER.LME and EFER.LMA: the runner sets LMA as the processor does when paging is on.
    let longModeEnable: UInt64
    let longModeActive: UInt64
    /// CR0.PG.
    let paging: UInt64
    /// RFLAGS fields: AC is the case's; IOPL is 3 so that CPL-3 test code may `out`; bit 1 is fixed.
    let alignmentCheck: UInt64
    let ioPrivilegeLevel: UInt64
    let rflagsFixed: UInt64
    /// CR4 bits cleared before `KVM_TRANSLATE`, a supervisor read that would otherwise apply them
    /// (SMAP, SMEP, protection keys).
    let translateRelaxed: UInt64
    /// CR4.PKS (the runner does not load IA32_PKRS).
    let supervisorKeys: UInt64
    /// XCR0.PKRU as a state-component number.
    let pkruComponent: Int?
    /// PF_ERROR_CODE.PK.
    let protectionKeyFlag: UInt64
    /// CPUID's MAXPHYADDR field.
    let maxPhysicalAddress: CPUIDField
    /// Control-register and EFER bits that need a CPUID feature, with their names (`CR4.LA57`).
    let gatedBits: [(name: String, register: String, mask: UInt64)]
    /// Features that paging rules test directly (not through a control bit), such as `pdpe1gb`.
    let entryFeatures: [CPUIDFeature]
    /// The CPUID vendor-string fields and their values for the vendor that every CPU model of the
    /// specs names (`GenuineIntel`), or empty when they name none or several. KVM applies a
    /// vendor's own paging rules where vendors differ (AMD reserves bit 8 of a PML4E), so the
    /// guest must claim the vendor whose manuals the specs follow.
    let vendorFields: [(field: CPUIDField, value: UInt32)]

    init(_ specs: SpecSet) throws {
        self.specs = specs
        func register(_ name: String) throws -> RegisterSpec {
            guard let r = specs.register(name) else { throw Missing(name: "register \(name)") }
            return r
        }
        func mask(_ r: RegisterSpec, _ field: String) throws -> UInt64 {
            guard let f = r.field(field) else { throw Missing(name: "field \(r.name).\(field)") }
            return f.bits.mask
        }
        let cr0 = try register("CR0"), cr4 = try register("CR4"), efer = try register("EFER")
        let rflags = try register("RFLAGS"), error = try register("PF_ERROR_CODE")
        longModeEnable = try mask(efer, "LME")
        longModeActive = try mask(efer, "LMA")
        paging = try mask(cr0, "PG")
        alignmentCheck = try mask(rflags, "AC")
        ioPrivilegeLevel = try mask(rflags, "IOPL")
        rflagsFixed = try mask(rflags, "fixed1")
        translateRelaxed = ["SMEP", "SMAP", "PKE", "PKS"].reduce(0) { $0 | (cr4.field($1)?.bits.mask ?? 0) }
        supervisorKeys = cr4.field("PKS")?.bits.mask ?? 0
        pkruComponent = specs.register("XCR0")?.field("PKRU").map { $0.bits.low }
        protectionKeyFlag = try mask(error, "PK")
        guard let m = specs.cpuidField("maxphyaddr") else { throw Missing(name: "CPUID field maxphyaddr") }
        maxPhysicalAddress = m
        gatedBits = [cr0, cr4, efer].flatMap { r in
            r.fields.filter { $0.requires != nil }.map {
                (name: "\(r.name).\($0.name)", register: r.name, mask: $0.bits.mask)
            }
        }
        entryFeatures = SpecFacts.featuresInRules().compactMap { specs.feature(SpecFeatures.names[$0]) }
        let vendors = Set(specs.cpuModels.map(\.vendor))
        let bytes = Array((vendors.count == 1 ? vendors.first ?? "" : "").utf8)
        let parts = ["vendor-1", "vendor-2", "vendor-3"].compactMap { specs.cpuidField($0) }
        if bytes.count == 12, parts.count == 3 {
            vendorFields = parts.enumerated().map { i, field in
                (field, bytes[(i * 4)..<(i * 4 + 4)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            }
        } else {
            vendorFields = []
        }
    }

    /// Features read as rule inputs by the guest paging formats' entry rules (present, leaf,
    /// reserved bits, address pieces), sorted by index.
    static func featuresInRules() -> [Int] {
        var found = Set<Int>()
        func scan(_ table: RuleTable?) {
            for input in table?.inputs ?? [] where input.source == .feature { found.insert(Int(input.index)) }
        }
        for format in SpecFormats.all where format.family == .guest {
            for level in format.levels {
                scan(level.present)
                scan(level.leafWhen)
                for r in level.reserved + level.leafReserved + level.tableReserved { scan(r.when) }
                for p in level.leafPieces where p.requires >= 0 { found.insert(Int(p.requires)) }
            }
            for r in format.rootReserved { scan(r.when) }
        }
        return found.sorted()
    }
}
