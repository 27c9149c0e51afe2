import WalkContract

/// A documented way in which KVM on these machines departs from the SDM (kvm.md §11). A case whose
/// difference is exactly one of these is reported under the deviation's name, never as an
/// agreement, and the walker is not changed to match it.
public struct KnownDeviation: Sendable, Hashable, CustomStringConvertible {
    /// Short name, as printed (`pk-on-fetch`).
    public var name: String
    /// Where it is documented.
    public var reference: String
    /// What KVM does and why.
    public var summary: String

    /// `name (reference)`.
    public var description: String { "\(name) (\(reference))" }

    /// kvm.md §11.5: after a CPL-3 fetch that the CPU made natively, PVM emulates the next trapping
    /// instruction, and the emulator's instruction fetch applies PKRU. A fetch from a page whose key
    /// PKRU access-disables then faults with PK set (and I, when EFER.NXE or CR4.SMEP is set); the
    /// SDM never applies keys to fetches.
    public static let protectionKeyOnFetch = KnownDeviation(
        name: "pk-on-fetch", reference: "kvm.md §11.5",
        summary:
            "a CPL-3 fetch from a page whose protection key is access-disabled faults with PK in KVM-PVM's emulator; the SDM applies protection keys to data accesses only"
    )

    /// kvm.md §11.4: KVM sets accessed flags only after the whole walk and the permission check
    /// succeed, so a faulting walk writes nothing.
    public static let noAccessedOnFault = KnownDeviation(
        name: "no-accessed-on-fault", reference: "kvm.md §11.4",
        summary: "KVM sets no accessed flag on a walk that faults")

    /// Found by this check (not in kvm.md §11): KVM-PVM faults CPL-3 accesses in one root-table
    /// slot of the linear space (`range`) whatever the guest's tables say, because PVM keeps that
    /// slot (in x86-64 Linux's "guard hole, reserved for hypervisor") for itself while guest user
    /// code runs natively; the error code is the host's (not present, or RSVD on the slot's first
    /// page). CPL-0 accesses there, emulated, follow the guest's tables.
    public static func userModeHole(_ range: String) -> KnownDeviation {
        KnownDeviation(
            name: "pvm-user-hole", reference: "docs/conformance.md",
            summary: "KVM-PVM faults CPL-3 accesses in \(range) whatever the guest's page tables say")
    }

    /// The deviations recognised from the results alone.
    public static let all = [protectionKeyOnFetch, noAccessedOnFault]

    /// The deviation that explains why KVM's `kvm` differs from our `ours` for `c`, if any.
    static func recognize(_ c: WalkCase, kvm: [String: String], ours: [String: String], facts: SpecFacts)
        -> KnownDeviation?
    {
        let kvmError = kvm["error_code"].flatMap(WalkCase.hexValue)
        if c.kind == "fetch", c.cpl == 3, kvm["result"] == "page-fault", ours["result"] == "ok",
            let e = kvmError, e & facts.protectionKeyFlag != 0
        {
            return protectionKeyOnFetch
        }
        if kvm["result"] == "page-fault", ours["result"] == "page-fault", kvm["error_code"] == ours["error_code"],
            kvm["writes"] == "{}", ours["writes"] != "{}"
        {
            return noAccessedOnFault
        }
        return nil
    }
}

extension WalkCase {
    /// Parses a result's `"0x…"` JSON text.
    static func hexValue(_ json: String) -> UInt64? {
        let t = json.trimmingCharacters(in: ["\""])
        guard t.hasPrefix("0x") else { return nil }
        return UInt64(t.dropFirst(2), radix: 16)
    }
}
