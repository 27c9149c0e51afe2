import Foundation
import SpecParser

/// A walk case of the contract (`shared/contracts/walk-case.md`), parsed and checked.
public struct WalkCase {
    /// The case's `id`, echoed in its result.
    public var id: String?
    /// MAXPHYADDR, from `maxphyaddr` or the CPU model (32...52).
    public var maxPhysicalAddressBits: Int
    /// CPUID features the CPU has, from `features` or the CPU model.
    public var features: Set<String>
    /// Register values by spec register name (`CR0`, `EFER`, `EPTP`, …).
    public var registers: [String: UInt64]
    /// The EPT context (EPTP and mode-based execute control), for cases that walk through EPT.
    public var ept: (eptp: UInt64, modeBasedExecute: Bool)?
    /// Physical memory as 8-byte words by 8-aligned address; other words read as zero.
    public var memory: [UInt64: UInt64]
    /// The accessed address: linear, or guest-physical when `guestPhysical`.
    public var address: UInt64
    /// Whether `address` is guest-physical (an EPT-only walk) rather than linear.
    public var guestPhysical: Bool
    /// The access type: `read`, `write` or `fetch`.
    public var kind: String
    /// Current privilege level of a linear access (0...3; 3 is user mode).
    public var cpl: Int
    /// Whether a linear access is an implicit supervisor access (to a descriptor table, say).
    public var implicit: Bool
    /// For a guest-physical access: whether the guest page is a user page (EPT advanced information).
    public var user: Bool

    /// A case that breaks the contract: its id and what is wrong.
    public struct Invalid: Error {
        var id: String?
        var message: String
    }

    /// Creates a case directly (for generators).
    public init(
        id: String?, maxPhysicalAddressBits: Int, features: Set<String>, registers: [String: UInt64],
        ept: (eptp: UInt64, modeBasedExecute: Bool)?, memory: [UInt64: UInt64], address: UInt64, guestPhysical: Bool,
        kind: String, cpl: Int, implicit: Bool, user: Bool
    ) {
        self.id = id
        self.maxPhysicalAddressBits = maxPhysicalAddressBits
        self.features = features
        self.registers = registers
        self.ept = ept
        self.memory = memory
        self.address = address
        self.guestPhysical = guestPhysical
        self.kind = kind
        self.cpl = cpl
        self.implicit = implicit
        self.user = user
    }

    /// The `regs` keys every case must give.
    public static let requiredRegisters = ["cr0", "cr3", "cr4", "efer"]
    /// The `regs` keys a case may give.
    public static let optionalRegisters = ["rflags", "pkru", "ia32_pkrs"]

    /// A JSON boolean (not a number that happens to be 0 or 1).
    static func boolean(_ value: Any, _ what: String, id: String?) throws -> Bool {
        guard let b = value as? Bool,
            String(describing: type(of: value)).contains("Boolean") || value is Bool && !(value is NSNumber)
        else {
            throw Invalid(id: id, message: "\(what) must be true or false")
        }
        return b
    }

    /// A contract number (JSON unsigned integer or `"0x…"` hex string); throws ``Invalid`` naming `what`.
    public static func number(_ value: Any?, _ what: String, id: String?) throws -> UInt64 {
        if let s = value as? String {
            let t = s.lowercased()
            // Strings are hex with a 0x prefix; decimal values are JSON numbers (the contract).
            if t.hasPrefix("0x"), t.count > 2, t.count <= 18, let v = UInt64(t.dropFirst(2), radix: 16) { return v }
            throw Invalid(id: id, message: "\(what): '\(s)' is not a hex string (\"0x…\", at most 64 bits)")
        }
        if let n = value as? NSNumber {
            if String(describing: type(of: n)).contains("Boolean") {
                throw Invalid(id: id, message: "\(what) must be a number, not a boolean")
            }
            let d = n.doubleValue
            let type = String(cString: n.objCType)
            guard d >= 0, d == d.rounded(), d < 18_446_744_073_709_551_616, type != "d" || d < 9_007_199_254_740_992
            else {
                throw Invalid(id: id, message: "\(what): \(n) is not an unsigned 64-bit integer")
            }
            return n.uint64Value
        }
        throw Invalid(id: id, message: "\(what) is missing or not a number")
    }

    /// Parses one case; throws ``Invalid`` naming the field and why.
    public static func parse(_ object: Any, specs: SpecSet) throws -> WalkCase {
        guard let o = object as? [String: Any] else { throw Invalid(id: nil, message: "a case must be a JSON object") }
        var id: String?
        if let v = o["id"] {
            if let s = v as? String {
                id = s
            } else if let n = v as? NSNumber {
                id = n.stringValue
            } else {
                throw Invalid(id: nil, message: "id must be a string")
            }
        }
        // The contract lets tools add top-level fields (a golden case's `expect` and `reason`);
        // fields inside `regs`, `ept` and `access` are checked strictly.
        var features: Set<String> = []
        var maxphyaddr: Int?
        if let cpuName = o["cpu"] {
            guard let name = cpuName as? String, let model = specs.cpuModel(name) else {
                throw Invalid(id: id, message: "cpu: unknown CPU model '\(cpuName)'")
            }
            features = Set(model.features.map(\.value))
            maxphyaddr = model.maxPhysicalAddressBits.value
        }
        if let m = o["maxphyaddr"] {
            let v = try number(m, "maxphyaddr", id: id)
            guard (32...52).contains(v) else { throw Invalid(id: id, message: "maxphyaddr: \(v) is outside 32...52") }
            maxphyaddr = Int(v)
        }
        guard let phys = maxphyaddr else {
            throw Invalid(id: id, message: "maxphyaddr is missing (and no cpu model given)")
        }
        if let f = o["features"] {
            guard let list = f as? [Any] else { throw Invalid(id: id, message: "features must be a list of names") }
            features = []
            for item in list {
                guard let name = item as? String else {
                    throw Invalid(id: id, message: "features must be a list of names")
                }
                guard specs.feature(name) != nil else {
                    var message = "features: unknown feature '\(name)'"
                    if let g = Spelling.nearest(to: name, among: specs.features.map(\.name)) {
                        message += " (did you mean '\(g)'?)"
                    }
                    throw Invalid(id: id, message: message)
                }
                features.insert(name)
            }
        }
        guard let regs = o["regs"] as? [String: Any] else {
            throw Invalid(id: id, message: "regs is missing or not an object")
        }
        var registers: [String: UInt64] = [:]
        for key in regs.keys.sorted() {
            guard requiredRegisters.contains(key) || optionalRegisters.contains(key) else {
                throw Invalid(id: id, message: "regs: unknown register '\(key)'")
            }
            registers[key.uppercased()] = try number(regs[key], "regs.\(key)", id: id)
        }
        for key in requiredRegisters where regs[key] == nil {
            throw Invalid(id: id, message: "regs.\(key) is missing")
        }
        var ept: (UInt64, Bool)?
        if let e = o["ept"] {
            guard let eo = e as? [String: Any] else { throw Invalid(id: id, message: "ept must be an object") }
            for key in eo.keys.sorted() where !["eptp", "mode_based_execute"].contains(key) {
                throw Invalid(id: id, message: "ept: unknown field '\(key)'")
            }
            let eptp = try number(eo["eptp"], "ept.eptp", id: id)
            var mbec = false
            if let m = eo["mode_based_execute"] { mbec = try boolean(m, "ept.mode_based_execute", id: id) }
            ept = (eptp, mbec)
        }
        var memory: [UInt64: UInt64] = [:]
        if let m = o["memory"] {
            guard let mo = m as? [String: Any] else { throw Invalid(id: id, message: "memory must be an object") }
            for key in mo.keys.sorted() {
                let address = try number(key, "memory address", id: id)
                guard address & 7 == 0 else {
                    throw Invalid(id: id, message: "memory: address \(key) is not 8-byte aligned")
                }
                memory[address] = try number(mo[key], "memory[\(key)]", id: id)
            }
        }
        guard let a = o["access"] as? [String: Any] else {
            throw Invalid(id: id, message: "access is missing or not an object")
        }
        for key in a.keys.sorted() where !["linear", "guest_physical", "kind", "cpl", "implicit", "user"].contains(key)
        {
            throw Invalid(id: id, message: "access: unknown field '\(key)'")
        }
        let hasLinear = a["linear"] != nil
        let hasGPA = a["guest_physical"] != nil
        guard hasLinear != hasGPA else {
            throw Invalid(id: id, message: "access needs exactly one of 'linear' and 'guest_physical'")
        }
        if hasGPA && ept == nil { throw Invalid(id: id, message: "access.guest_physical needs 'ept'") }
        let address = try number(
            hasLinear ? a["linear"] : a["guest_physical"], hasLinear ? "access.linear" : "access.guest_physical", id: id
        )
        guard let kind = a["kind"] as? String, ["read", "write", "fetch"].contains(kind) else {
            throw Invalid(id: id, message: "access.kind must be read, write or fetch")
        }
        var cpl = 0
        if hasLinear {
            let c = try number(a["cpl"], "access.cpl", id: id)
            guard c <= 3 else { throw Invalid(id: id, message: "access.cpl: \(c) is outside 0...3") }
            cpl = Int(c)
        } else if a["cpl"] != nil {
            throw Invalid(id: id, message: "access.cpl applies to linear accesses only")
        }
        var implicit = false
        if let i = a["implicit"] { implicit = try boolean(i, "access.implicit", id: id) }
        var user = false
        if let u = a["user"] {
            guard hasGPA else { throw Invalid(id: id, message: "access.user applies to guest_physical accesses only") }
            user = try boolean(u, "access.user", id: id)
        }
        if hasGPA && phys < 64 && address >> UInt64(phys) != 0 {
            throw Invalid(
                id: id,
                message:
                    "access.guest_physical: 0x\(String(address, radix: 16)) is at or above 2^MAXPHYADDR (\(phys) bits)")
        }
        return WalkCase(
            id: id, maxPhysicalAddressBits: phys, features: features, registers: registers, ept: ept, memory: memory,
            address: address, guestPhysical: hasGPA, kind: kind, cpl: cpl, implicit: implicit, user: user)
    }
}

/// A walk result in the contract's JSON form, with keys in the contract's order.
public struct WalkResult {
    /// The case's id, echoed.
    public var id: String?
    /// The outcome: `ok`, `page-fault`, `ept-violation`, `ept-misconfiguration`, … or `invalid`.
    public var result: String
    /// The outcome's fields in contract order, as (key, JSON text) pairs.
    public var fields: [(String, String)] = []

    /// Creates a result; `fields` values are JSON text.
    public init(id: String?, result: String, fields: [(String, String)] = []) {
        self.id = id
        self.result = result
        self.fields = fields
    }

    /// `v` as a JSON hex string (`"0x1f"`).
    public static func hex(_ v: UInt64) -> String { "\"0x\(String(v, radix: 16))\"" }

    /// Walker writes as a JSON object from hex address to hex value, in address order.
    public static func writes(_ w: [UInt64: UInt64]) -> String {
        "{" + w.keys.sorted().map { "\(hex($0)): \(hex(w[$0] ?? 0))" }.joined(separator: ", ") + "}"
    }

    /// `s` as a JSON string literal.
    public static func quote(_ s: String) -> String { JSONString.quote(s) }

    /// Whether `other` has the same id, result and fields: the same JSON, without rendering it.
    public func same(as other: WalkResult) -> Bool {
        id == other.id && result == other.result && fields.count == other.fields.count
            && zip(fields, other.fields).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    /// The result as one line of JSON, keys in the contract's order.
    public var json: String {
        var parts: [String] = []
        if let id { parts.append("\"id\": \(Self.quote(id))") }
        parts.append("\"result\": \"\(result)\"")
        for (k, v) in fields { parts.append("\"\(k)\": \(v)") }
        return "{" + parts.joined(separator: ", ") + "}"
    }
}
