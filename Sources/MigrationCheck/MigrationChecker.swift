import SpecParser

/// One hazard or warning of a migration check, with the stable id of the contract
/// (`feature-missing`, `phys-width`, `linear-width`, `la57-canonical-leak`, `noncanonical-state`,
/// `cr4-bit`, …) and the facts it is about.
public struct MigrationFinding: Sendable, Equatable {
    /// Stable id.
    public var id: String
    /// The feature concerned (`feature-missing`, gated bits).
    public var feature: String?
    /// The state key concerned (`fs_base`, `cr4`).
    public var register: String?
    /// The state value concerned, as `0x…` hex.
    public var value: String?
    /// The architectural register or field concerned (`IA32_FS_BASE`, `LA57`).
    public var field: String?
    /// The CPU-model width (`maxphyaddr`) or VMX capability (`ept-page-walk-5`) concerned.
    public var property: String?
    /// One sentence saying what is wrong and why.
    public var detail: String

    /// Creates a finding.
    public init(
        id: String, feature: String? = nil, register: String? = nil, value: String? = nil, field: String? = nil,
        property: String? = nil, detail: String
    ) {
        self.id = id
        self.feature = feature
        self.register = register
        self.value = value
        self.field = field
        self.property = property
        self.detail = detail
    }

    /// The JSON object: `id`, the facts present, then `detail`.
    public var json: JSONValue {
        var pairs: [(String, JSONValue)] = [("id", .string(id))]
        let facts: [(String, String?)] = [
            ("feature", feature), ("register", register), ("value", value), ("field", field), ("property", property),
        ]
        for case let (key, v?) in facts { pairs.append((key, .string(v))) }
        pairs.append(("detail", .string(detail)))
        return .object(pairs)
    }
}

/// The verdict of a migration check: migratable when there is no hazard (warnings allowed).
public struct MigrationReport: Sendable, Equatable {
    /// The guest model's name.
    public var guest: String
    /// The source host model's name.
    public var source: String
    /// The destination host model's name.
    public var destination: String
    /// Hazards: any one makes the migration unsafe.
    public var hazards: [MigrationFinding]
    /// Warnings: risks that the inputs cannot settle.
    public var warnings: [MigrationFinding]

    /// True when there is no hazard.
    public var migratable: Bool { hazards.isEmpty }

    /// The contract's JSON object: `migratable`, `hazards`, `warnings`.
    public var json: JSONValue {
        .object([
            ("migratable", .bool(migratable)), ("hazards", .array(hazards.map(\.json))),
            ("warnings", .array(warnings.map(\.json))),
        ])
    }

    /// The human report.
    public var text: String {
        let verdict = migratable ? "safe" : "NOT safe"
        var lines = [
            "migration of a guest of model \(guest) from \(source) to \(destination): \(verdict) "
                + "(\(hazards.count) hazard\(hazards.count == 1 ? "" : "s"), \(warnings.count) warning\(warnings.count == 1 ? "" : "s"))"
        ]
        for h in hazards { lines.append("hazard \(h.id): \(h.detail)") }
        for w in warnings { lines.append("warning \(w.id): \(w.detail)") }
        return lines.joined(separator: "\n")
    }
}

/// Decides whether a guest can be live-migrated between two hosts, from the CPU models and,
/// optionally, a snapshot of guest registers.
///
/// Every rule is data from the specs: the features and widths of the models, the widths that must
/// not shrink and the canonical registers of `specs/hazards/migration.yaml`, and the `requires:`
/// of the fields of the gated registers (KVM's `__cr4_reserved_bits`, reference §(c.4)). The
/// canonical-width rules are those of KVM commit 9245fd6b8531 (reference §(b)).
public struct MigrationChecker: Sendable {
    /// The specs.
    public let specs: SpecSet
    /// The migration rules of the specs.
    public let rules: MigrationSpec

    /// Creates a checker. - Throws: ``InputError`` when the specs have no `migration:` rules.
    public init(specs: SpecSet) throws {
        guard let rules = specs.migration else {
            throw InputError("the specs define no migration rules (a 'migration:' file in specs/hazards/)")
        }
        self.specs = specs
        self.rules = rules
    }

    /// Checks the migration of a guest of model `guest` from `source` to `destination`.
    public func check(
        guest: CPUModelDescription, from source: CPUModelDescription, to destination: CPUModelDescription,
        state: GuestState? = nil
    ) -> MigrationReport {
        var hazards: [MigrationFinding] = []
        var warnings: [MigrationFinding] = []
        let g = guest.name
        let d = destination.name

        if guest.vendor != destination.vendor {
            hazards.append(
                .init(
                    id: "vendor-mismatch", property: "vendor",
                    detail: "the guest model \(g) is \(guest.vendor) but the destination \(d) is \(destination.vendor)")
            )
        }
        for f in guest.features where !destination.has(f) {
            hazards.append(
                .init(
                    id: "feature-missing", feature: f,
                    detail: "the guest model \(g) has \(describe(feature: f)), which the destination \(d) lacks"))
        }
        for rule in rules.widths {
            guard let gw = guest.width(rule.property), let dw = destination.width(rule.property), gw > dw else {
                continue
            }
            hazards.append(
                .init(
                    id: rule.id, property: rule.property,
                    detail: "the guest model \(g) has \(rule.property) \(gw) but the destination \(d) has only \(dw)"))
        }
        for cap in guest.vmx.missing(from: destination.vmx) {
            hazards.append(
                .init(
                    id: "vmx-capability", property: cap,
                    detail:
                        "the guest model \(g) offers VMX capability \(cap) to a nested hypervisor; the destination \(d) lacks it"
                ))
        }

        let wide = rules.wideLinearFeature.value
        let width = rules.staticLinearWidth(hasWideFeature: destination.has(wide))
        let staticRegisters = rules.canonicalRegisters.filter { $0.width == .static }
        if let state {
            hazards += stateHazards(state, guest: guest, destination: destination, staticWidth: width)
        }
        if source.has(wide) && !destination.has(wide) {
            let unchecked = staticRegisters.filter { state?.values[$0.stateKey] == nil }
            if !unchecked.isEmpty {
                let names = unchecked.map(\.stateKey).joined(separator: ", ")
                let sourceWidth = rules.staticLinearWidth(hasWideFeature: true)
                var detail =
                    "the source \(source.name) has \(wide) and the destination \(d) does not: registers with static "
                    + "canonical checks (\(names)) may hold \(sourceWidth)-bit-canonical values whatever the guest model "
                    + "and CR4 say, and the destination accepts only \(width)-bit-canonical ones"
                if state != nil {
                    detail +=
                        "; the state does not include \(unchecked.count == 1 ? "this register" : "these registers")"
                }
                warnings.append(.init(id: "la57-canonical-leak", feature: wide, detail: detail))
            }
        }
        return MigrationReport(guest: g, source: source.name, destination: d, hazards: hazards, warnings: warnings)
    }

    /// `noncanonical-state` and gated-bit hazards of a snapshot.
    func stateHazards(
        _ state: GuestState, guest: CPUModelDescription, destination: CPUModelDescription, staticWidth: Int
    ) -> [MigrationFinding] {
        var out: [MigrationFinding] = []
        let d = destination.name
        for r in rules.canonicalRegisters {
            guard let v = state.values[r.stateKey] else { continue }
            let w = r.width == .static ? staticWidth : pagingWidth(state, destination: destination)
            guard !Canonical.isCanonical(v, width: w) else { continue }
            var detail = "\(r.name) = \(hex(v)) is not canonical at the destination \(d)'s \(w)-bit width"
            switch r.outcome {
            case .refused:
                detail += ": restoring it (KVM_SET_MSRS, KVM_SET_SREGS or VM entry) would be refused"
            case .truncated:
                detail +=
                    ": it would be silently truncated to \(hex(Canonical.signExtend(v, width: w))) "
                    + "(sign-extended from bit \(w - 1)) rather than refused, corrupting the guest's state"
            }
            out.append(
                .init(id: "noncanonical-state", register: r.stateKey, value: hex(v), field: r.name, detail: detail))
        }
        for gated in rules.gatedRegisters {
            guard let reg = specs.register(gated.value) else { continue }
            for key in rules.stateRegisters.filter({ $0.register == reg.name }).map(\.key) {
                guard let v = state.values[key] else { continue }
                for field in reg.fields {
                    guard let req = field.requires?.value, v & field.bits.mask != 0 else { continue }
                    var lacking: [String] = []
                    if !destination.has(req) { lacking.append("the destination \(d)") }
                    if !guest.has(req) { lacking.append("the guest model \(guest.name)") }
                    guard !lacking.isEmpty else { continue }
                    let who =
                        lacking.count == 1 ? "\(lacking[0]) lacks" : "neither \(lacking.joined(separator: " nor ")) has"
                    out.append(
                        .init(
                            id: "\(reg.name.lowercased())-bit", feature: req, register: key, value: hex(v),
                            field: field.name,
                            detail:
                                "\(reg.name).\(field.name) (bit \(field.bits)) is set, but \(who) \(describe(feature: req)), "
                                + "so the destination cannot restore it"))
                }
            }
        }
        return out
    }

    /// The paging-mode width of the snapshot at the destination: wide when a gated field that
    /// needs the wide-linear feature (CR4.LA57) is set and the destination has the feature.
    func pagingWidth(_ state: GuestState, destination: CPUModelDescription) -> Int {
        let wide = rules.wideLinearFeature.value
        for gated in rules.gatedRegisters {
            guard let reg = specs.register(gated.value) else { continue }
            for field in reg.fields where field.requires?.value == wide {
                for key in rules.stateRegisters.filter({ $0.register == reg.name }).map(\.key) {
                    if let v = state.values[key], v & field.bits.mask != 0 {
                        return rules.staticLinearWidth(hasWideFeature: destination.has(wide))
                    }
                }
            }
        }
        return rules.linearWidths.narrow
    }

    func describe(feature: String) -> String {
        guard let f = specs.feature(feature), !f.title.isEmpty else { return feature }
        return "\(feature) (\(f.title))"
    }
}

/// Canonical addresses (SDM Vol. 3A §3.3.7.1): bits 63 down to the width's top bit are all equal.
public enum Canonical {
    /// Whether `value` is canonical for a `width`-bit linear address.
    public static func isCanonical(_ value: UInt64, width: Int) -> Bool {
        guard width > 0 && width < 64 else { return true }
        let top = Int64(bitPattern: value) >> Int64(width - 1)
        return top == 0 || top == -1
    }

    /// `value` sign-extended from bit `width - 1`: what KVM makes of a SYSENTER_ESP/EIP value.
    public static func signExtend(_ value: UInt64, width: Int) -> UInt64 {
        guard width > 0 && width < 64 else { return value }
        let shift = UInt64(64 - width)
        return UInt64(bitPattern: Int64(bitPattern: value << shift) >> Int64(shift))
    }
}
