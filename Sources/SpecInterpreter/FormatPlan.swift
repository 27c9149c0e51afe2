import SpecParser

/// Bits reserved under a condition, with the named field already looked up in the entry layout.
struct ResolvedReserved {
    /// What is reserved.
    enum Bits {
        /// Fixed bits (a range, or a named field's bits).
        case fixed(UInt64)
        /// The bits of this address mask at or above the physical-address width.
        case aboveMaxPhysicalAddress(addressMask: UInt64)
    }
    /// When the bits are reserved (over control state); `nil` means always.
    var when: ResolvedRule?
    /// The bits.
    var bits: Bits

    /// The union of the reserved bits of `items` that apply, for a `physicalBits`-bit physical address.
    static func mask(_ items: [ResolvedReserved], _ inputs: RuleInputs, physicalBits: Int) -> UInt64 {
        var mask: UInt64 = 0
        for item in items where item.when?.holds(inputs) ?? true {
            switch item.bits {
            case .fixed(let m): mask |= m
            case .aboveMaxPhysicalAddress(let address):
                mask |= physicalBits >= 64 ? 0 : address & ~((UInt64(1) << UInt64(physicalBits)) - 1)
            }
        }
        return mask
    }
}

/// An entry layout with the fields the walker uses by role looked up once.
struct LayoutPlan {
    /// The layout.
    let layout: EntryLayout
    /// Entry size in bytes.
    let size: Int
    /// The `address` role's bits (0 if none).
    let addressMask: UInt64
    /// The `accessed` role's bits (0 if none).
    let accessedMask: UInt64
    /// The `dirty` role's bits (0 if none).
    let dirtyMask: UInt64

    init(_ layout: EntryLayout) {
        self.layout = layout
        size = layout.size
        addressMask = layout.field(role: .address)?.bits.mask ?? 0
        accessedMask = layout.field(role: .accessed)?.bits.mask ?? 0
        dirtyMask = layout.field(role: .dirty)?.bits.mask ?? 0
    }
}

/// One level of a format with its layout, rules and reserved bits resolved.
final class LevelPlan {
    /// The level.
    let level: PagingLevel
    /// Its entry layout (the level's own, else the format's).
    let layout: LayoutPlan
    /// The format's `present` rule over this layout.
    let present: ResolvedRule
    /// The format's misconfiguration rules over this layout.
    let misconfigured: [ResolvedRule]
    /// The format's leaf misconfiguration rules over this layout.
    let leafMisconfigured: [ResolvedRule]
    /// When a present entry maps a page.
    let leafWhen: ResolvedRule?
    /// Reserved bits of a leaf: the format's, the level's and the leaf's.
    let leafReserved: [ResolvedReserved]
    /// Reserved bits of a table reference: the format's, the level's and the table's.
    let tableReserved: [ResolvedReserved]
    /// Page-frame address pieces, with the index of the feature each requires.
    let leafAddress: [(from: BitRange, to: BitRange, requires: Int?)]
    /// Rights folded over this level's entries: right index, entry field bits, folding.
    let folds: [(right: Int, mask: UInt64, fold: RightRule.Fold)]
    /// The protection-key field's bits and low bit, if the format has keys and the layout the field.
    let keyField: (mask: UInt64, shift: UInt64)?
    /// The index bits of the address: low bit and width.
    let indexLow: UInt64
    let indexWidth: UInt64

    init(_ level: PagingLevel, layout: EntryLayout, format: PagingFormat, rightIndex: [String: Int], _ r: SpecResolver)
    {
        self.level = level
        self.layout = LayoutPlan(layout)
        func entryRule(_ rule: Rule) -> ResolvedRule {
            ResolvedRule(rule) { name in
                if let f = layout.field(name) { return .entry(mask: f.bits.mask, shift: UInt64(f.bits.low)) }
                return r.controlNode(name)
            }
        }
        func reserved(_ items: [ReservedBits]) -> [ResolvedReserved] {
            items.map { item in
                let bits: ResolvedReserved.Bits
                switch item.bits {
                case .range(let range): bits = .fixed(range.mask)
                case .field(let n): bits = .fixed(layout.field(n)?.bits.mask ?? 0)
                case .aboveMaxPhysicalAddress:
                    bits = .aboveMaxPhysicalAddress(addressMask: layout.field(role: .address)?.bits.mask ?? 0)
                }
                return ResolvedReserved(when: item.when.map { r.controlRule($0) }, bits: bits)
            }
        }
        present = entryRule(format.present)
        misconfigured = format.misconfigured.map(entryRule)
        leafMisconfigured = format.leafMisconfigured.map(entryRule)
        leafWhen = level.leafWhen.map(entryRule)
        leafReserved = reserved(format.reserved + level.reserved + level.leafReserved)
        tableReserved = reserved(format.reserved + level.reserved + level.tableReserved)
        leafAddress = level.leafAddress.map { ($0.from, $0.to, $0.requires.map { r.feature($0) }) }
        folds = format.rights.compactMap { right in
            guard let f = layout.field(right.field), let i = rightIndex[right.name] else { return nil }
            return (i, f.bits.mask, right.fold)
        }
        if let pk = format.protectionKeys, let f = layout.field(pk.field) {
            keyField = (f.bits.mask, UInt64(f.bits.low))
        } else {
            keyField = nil
        }
        indexLow = UInt64(level.index.low)
        indexWidth = UInt64(level.index.width)
    }
}

/// A protection-key register with its `AD<n>`/`WD<n>` fields looked up by key.
struct KeyRegister {
    /// Register index.
    let register: Int
    /// `(AD<n> bits, WD<n> bits)` for key n, when the register has both fields.
    let keys: [(accessDisable: UInt64, writeDisable: UInt64)?]
}

/// A fault rule resolved.
struct FaultPlan {
    /// The condition.
    let rule: ResolvedRule
    /// Facts the fault sets, by fact index.
    let sets: [Int]
    /// The reason, for `--explain`.
    let why: String
}

/// A paging format with every name its rules use resolved once, by the ``ReferenceWalker`` that
/// built it; the walker still evaluates each rule of the format on every walk.
package final class FormatPlan {
    /// The format.
    package let format: PagingFormat
    /// Its family, name, input width, canonicality and physical-address limit.
    let family: PagingFormat.Family
    let name: String
    let addressBits: Int
    let canonical: Bool
    let physicalAddressLimit: Int?
    /// When the format is enabled.
    let enabledWhen: ResolvedRule?
    /// Whether the format's entry layout exists (else walks are invalid).
    let hasLayout: Bool
    /// The root register's index and name, and the root field's bits.
    let rootRegister: Int
    let rootRegisterName: String
    let rootMask: UInt64
    /// Levels, top first (empty without a layout).
    let levels: [LevelPlan]
    /// Number of rights; indexes of the `user`, `writable` and `executable` rights and of the
    /// right that tells user pages (protection keys).
    let rightCount: Int
    let userRight: Int?
    let writableRight: Int?
    let executableRight: Int?
    let pageIsUserRight: Int?
    /// Protection-key registers for user and supervisor pages.
    let userKeys: KeyRegister?
    let supervisorKeys: KeyRegister?
    /// The access-rights faults.
    let faults: [FaultPlan]
    /// Report flags: rule and the flag's bits in the report register.
    let reportFlags: [(rule: ResolvedRule, mask: UInt64)]
    /// Facts `not-present` and `reserved`, by fact index (empty when no report rule reads them).
    let notPresentFacts: [Int]
    let reservedFacts: [Int]
    /// When A/D flags are maintained; `nil` means always.
    let accessedDirtyWhen: ResolvedRule?
    /// Root-register reserved bits and checks.
    let rootReserved: [ResolvedReserved]
    let rootChecks: [(rule: ResolvedRule, why: String)]

    init(_ format: PagingFormat, _ r: SpecResolver) {
        self.format = format
        family = format.family
        name = format.name
        addressBits = format.addressBits
        canonical = format.canonical
        physicalAddressLimit = format.physicalAddressLimit
        enabledWhen = format.enabledWhen.map { r.controlRule($0) }

        let parts = format.root.value.split(separator: ".").map(String.init)
        rootRegisterName = parts.first ?? ""
        rootRegister = r.register(rootRegisterName)
        let rootFieldMask = r.registersByName[rootRegisterName]?.field(parts.count > 1 ? parts[1] : "")?.bits.mask ?? 0
        rootMask = rootFieldMask

        var rightIndex: [String: Int] = [:]
        for right in format.rights where rightIndex[right.name] == nil { rightIndex[right.name] = rightIndex.count }
        rightCount = rightIndex.count
        userRight = rightIndex["user"]
        writableRight = rightIndex["writable"]
        executableRight = rightIndex["executable"]

        // Fault facts are interned as the report rules name them; facts no rule reads are dropped.
        var factIndex: [String: Int] = [:]
        func fact(_ name: String) -> Int {
            if let i = factIndex[name] { return i }
            factIndex[name] = factIndex.count
            return factIndex.count - 1
        }
        func access(_ name: String) -> ResolvedRule.Node? {
            guard name.hasPrefix("access."), let a = AccessAttribute(rawValue: String(name.dropFirst(7))) else {
                return nil
            }
            return .access(AccessMask(a))
        }
        let reportRegister = r.registersByName[format.report.register.value]
        reportFlags = format.report.flags.map { flag in
            let rule = ResolvedRule(flag.rule) { name in
                if let a = access(name) { return a }
                if name.hasPrefix("fault.") { return .fact(fact(String(name.dropFirst(6)))) }
                if let i = rightIndex[name] { return .right(i) }
                return r.controlNode(name)
            }
            return (rule, reportRegister?.field(flag.field)?.bits.mask ?? 0)
        }
        func facts(_ names: [String]) -> [Int] { names.compactMap { factIndex[$0] } }
        notPresentFacts = facts(["not-present"])
        reservedFacts = facts(["reserved"])
        faults = format.faults.map { rule in
            let resolved = ResolvedRule(rule.when) { name in
                if let a = access(name) { return a }
                if name == "key.AD" { return .keyAccessDisable }
                if name == "key.WD" { return .keyWriteDisable }
                if let i = rightIndex[name] { return .right(i) }
                return r.controlNode(name)
            }
            return FaultPlan(rule: resolved, sets: facts(rule.sets), why: rule.why.isEmpty ? rule.when.text : rule.why)
        }
        accessedDirtyWhen = format.accessedDirtyWhen.map { r.controlRule($0) }

        if let pk = format.protectionKeys {
            pageIsUserRight = rightIndex[pk.pageIsUser]
            userKeys = r.keyRegister(pk.userRegister)
            supervisorKeys = r.keyRegister(pk.supervisorRegister)
        } else {
            pageIsUserRight = nil
            userKeys = nil
            supervisorKeys = nil
        }

        rootReserved = format.rootReserved.map { item in
            let bits: ResolvedReserved.Bits
            switch item.bits {
            case .range(let range): bits = .fixed(range.mask)
            case .field: bits = .fixed(0)
            case .aboveMaxPhysicalAddress: bits = .aboveMaxPhysicalAddress(addressMask: rootFieldMask)
            }
            return ResolvedReserved(when: item.when.map { r.controlRule($0) }, bits: bits)
        }
        rootChecks = format.rootChecks.map { (r.controlRule($0.invalidWhen), $0.why) }

        guard let defaultLayout = r.layoutsByName[format.entryLayout] else {
            hasLayout = false
            levels = []
            return
        }
        hasLayout = true
        levels = format.levels.map { level in
            LevelPlan(
                level, layout: level.entryLayout.flatMap { r.layoutsByName[$0] } ?? defaultLayout, format: format,
                rightIndex: rightIndex, r)
        }
    }
}

/// Resolves spec names for a ``ReferenceWalker``: register and feature indexes, register fields.
final class SpecResolver {
    let registersByName: [String: RegisterSpec]
    let layoutsByName: [String: EntryLayout]
    /// `REGISTER.FIELD` names: the register, the field's mask and low bit.
    let controlFields: [String: (register: String, mask: UInt64, shift: UInt64)]
    /// Registers by index and name.
    private(set) var registerNames: [String] = []
    private(set) var registerIndex: [String: Int] = [:]
    /// Features by index and name.
    private(set) var featureNames: [String] = []
    private(set) var featureIndex: [String: Int] = [:]

    init(_ specs: SpecSet) {
        var fields: [String: (String, UInt64, UInt64)] = [:]
        for r in specs.registers {
            for f in r.fields { fields["\(r.name).\(f.name)"] = (r.name, f.bits.mask, UInt64(f.bits.low)) }
        }
        controlFields = fields
        registersByName = Dictionary(specs.registers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        layoutsByName = Dictionary(specs.layouts.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for r in specs.registers { _ = register(r.name) }
    }

    /// The index of register `name`, interning it.
    func register(_ name: String) -> Int {
        if let i = registerIndex[name] { return i }
        registerNames.append(name)
        registerIndex[name] = registerNames.count - 1
        return registerNames.count - 1
    }

    /// The index of feature `name`, interning it.
    func feature(_ name: String) -> Int {
        if let i = featureIndex[name] { return i }
        featureNames.append(name)
        featureIndex[name] = featureNames.count - 1
        return featureNames.count - 1
    }

    /// A name over control state: a register field, `cpuid.FEATURE`, else 0.
    func controlNode(_ name: String) -> ResolvedRule.Node {
        if let f = controlFields[name] { return .control(register: register(f.register), mask: f.mask, shift: f.shift) }
        if name.hasPrefix("cpuid.") { return .feature(feature(String(name.dropFirst(6)))) }
        return .constant(0)
    }

    /// A rule over control state.
    func controlRule(_ rule: Rule) -> ResolvedRule { ResolvedRule(rule) { controlNode($0) } }

    /// A protection-key register with its `AD<n>` and `WD<n>` fields.
    func keyRegister(_ name: String) -> KeyRegister {
        var keys: [(accessDisable: UInt64, writeDisable: UInt64)?] = []
        if let reg = registersByName[name] {
            for field in reg.fields where field.name.hasPrefix("AD") {
                guard let n = Int(field.name.dropFirst(2)), n >= 0, n < 4096, "AD\(n)" == field.name,
                    let ad = reg.field("AD\(n)"), let wd = reg.field("WD\(n)")
                else { continue }
                while keys.count <= n { keys.append(nil) }
                keys[n] = (ad.bits.mask, wd.bits.mask)
            }
        }
        return KeyRegister(register: register(name), keys: keys)
    }
}
