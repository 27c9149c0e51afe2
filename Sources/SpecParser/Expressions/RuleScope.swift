/// The attributes of a memory access that rules may name as `access.NAME`.
///
/// Models the SDM's access classification (Vol. 3A §4.6): the access type, the mode
/// (user-mode access: CPL = 3 and not implicit; supervisor-mode otherwise), and, for EPT,
/// whether the guest-physical access came with a linear address and whether it was the final
/// translation or a guest paging-structure access (Vol. 3C §28.2.1 Table 28-7).
public enum AccessAttribute: String, Sendable, CaseIterable {
    /// A data read.
    case read
    /// A data write.
    case write
    /// An instruction fetch.
    case fetch
    /// A data access (read or write).
    case data
    /// A user-mode access: CPL 3 and not implicit.
    case user
    /// A supervisor-mode access: CPL < 3, or implicit.
    case supervisor
    /// An implicit supervisor access (descriptor tables, for example).
    case implicit
    /// EPT: the guest-physical address came from translating a linear address.
    case linearValid = "linear-valid"
    /// EPT: the access is the final translation (not a guest paging-structure access).
    case final
    /// EPT: the guest page's U/S (for mode-based execute and the advanced exit information).
    case guestUser = "guest-user"
    /// EPT: the guest page is writable (advanced exit information).
    case guestWritable = "guest-writable"
    /// EPT: the guest page is execute-disabled (advanced exit information).
    case guestExecuteDisabled = "guest-execute-disabled"
}

/// What a name in a rule denotes.
public enum RuleName: Sendable, Hashable {
    /// A register field (`CR4.SMEP`): part of the control state.
    case control(register: String, field: String, width: Int)
    /// A CPUID feature (`cpuid.pdpe1gb`) of the CPU model.
    case feature(String)
    /// An access attribute.
    case access(AccessAttribute)
    /// A field of the current paging-structure entry.
    case entry(String, width: Int)
    /// A right folded along the walk.
    case right(String)
    /// A protection-key right of the leaf's key: `AD` or `WD`.
    case key(String)
    /// A fact about the fault being reported: `not-present`, `reserved`, or a flag set by a fault rule.
    case fault(String)

    /// Width of the value: 1 for booleans.
    public var width: Int {
        switch self {
        case .control(_, _, let w), .entry(_, let w): return w
        default: return 1
        }
    }
}

/// The outcome of resolving a name: what it denotes, or why it denotes nothing.
public enum Resolution: Sendable {
    /// The name resolved.
    case success(RuleName)
    /// The name is unknown or not allowed here; the message says which.
    case failure(String)

    /// The resolved name, if any.
    public var name: RuleName? {
        if case .success(let n) = self { return n }
        return nil
    }
}

/// Which kinds of names a rule may use; resolves names against the spec.
public struct RuleScope: Sendable {
    /// Kinds of names.
    public struct Kinds: OptionSet, Sendable {
        /// The set's bits.
        public let rawValue: Int
        /// Creates a set from its bits.
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// Register fields.
        public static let control = Kinds(rawValue: 1)
        /// CPUID features.
        public static let feature = Kinds(rawValue: 2)
        /// Access attributes.
        public static let access = Kinds(rawValue: 4)
        /// Entry fields.
        public static let entry = Kinds(rawValue: 8)
        /// Folded rights.
        public static let rights = Kinds(rawValue: 16)
        /// Protection-key rights.
        public static let key = Kinds(rawValue: 32)
        /// Fault facts.
        public static let fault = Kinds(rawValue: 64)
    }

    /// The allowed kinds.
    public var kinds: Kinds
    /// The spec that defines registers and features.
    public var registers: [String: RegisterSpec]
    /// Feature names.
    public var features: Set<String>
    /// The entry layout for entry fields.
    public var layout: EntryLayout?
    /// Right names.
    public var rights: [String]
    /// Fault facts available.
    public var faultFacts: [String]

    /// Creates a scope.
    public init(
        kinds: Kinds, registers: [String: RegisterSpec], features: Set<String>, layout: EntryLayout? = nil,
        rights: [String] = [], faultFacts: [String] = []
    ) {
        self.kinds = kinds
        self.registers = registers
        self.features = features
        self.layout = layout
        self.rights = rights
        self.faultFacts = faultFacts
    }

    /// What names this scope allows, for messages: "register fields (REGISTER.FIELD) and CPUID
    /// features (cpuid.NAME)".
    public var allowedDescription: String {
        var parts: [String] = []
        if kinds.contains(.control) { parts.append("register fields (REGISTER.FIELD)") }
        if kinds.contains(.feature) { parts.append("CPUID features (cpuid.NAME)") }
        if kinds.contains(.access) { parts.append("access attributes (access.NAME)") }
        if kinds.contains(.entry) { parts.append("entry fields") }
        if kinds.contains(.rights) { parts.append("rights") }
        if kinds.contains(.key) { parts.append("protection-key rights (key.AD, key.WD)") }
        if kinds.contains(.fault) { parts.append("fault facts (fault.NAME)") }
        guard let last = parts.popLast() else { return "no names" }
        return parts.isEmpty ? last : parts.joined(separator: ", ") + " and " + last
    }

    private func notHere(_ what: String) -> Resolution {
        .failure("\(what) cannot be used here; this rule may name \(allowedDescription)")
    }

    /// Resolves `name`, or explains why not.
    public func resolve(_ name: String) -> Resolution {
        let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
        if parts.count == 2 {
            let (head, tail) = (parts[0], parts[1])
            if head == "cpuid" {
                guard kinds.contains(.feature) else { return notHere("CPUID feature '\(name)'") }
                if features.contains(tail) { return .success(.feature(tail)) }
                return .failure("unknown CPUID feature '\(tail)'" + suggest(tail, Array(features)))
            }
            if head == "access" {
                guard kinds.contains(.access) else { return notHere("access attribute '\(name)'") }
                if let a = AccessAttribute(rawValue: tail) { return .success(.access(a)) }
                return .failure(
                    "unknown access attribute '\(tail)'" + suggest(tail, AccessAttribute.allCases.map(\.rawValue)))
            }
            if head == "key" {
                guard kinds.contains(.key) else {
                    return .failure(
                        "protection-key right '\(name)' can be used only in the fault rules of a format with 'protection-keys'"
                    )
                }
                if tail == "AD" || tail == "WD" { return .success(.key(tail)) }
                return .failure("unknown protection-key right '\(tail)'; expected AD or WD")
            }
            if head == "fault" {
                guard kinds.contains(.fault) else { return notHere("fault fact '\(name)'") }
                if faultFacts.contains(tail) { return .success(.fault(tail)) }
                return .failure("unknown fault fact '\(tail)'" + suggest(tail, faultFacts))
            }
            if let register = registers[head] {
                guard kinds.contains(.control) else { return notHere("register field '\(name)'") }
                if let field = register.field(tail) {
                    return .success(.control(register: head, field: tail, width: field.bits.width))
                }
                return .failure(
                    "register '\(head)' has no field '\(tail)'" + suggest(tail, register.fields.map(\.name)))
            }
            return .failure(
                "unknown name '\(name)'" + suggest(head, Array(registers.keys) + ["cpuid", "access", "key", "fault"]))
        }
        if kinds.contains(.entry), let layout, let f = layout.field(name) {
            return .success(.entry(name, width: f.bits.width))
        }
        if kinds.contains(.rights), rights.contains(name) { return .success(.right(name)) }
        if !kinds.contains(.entry), let layout, layout.field(name) != nil { return notHere("entry field '\(name)'") }
        if !kinds.contains(.rights), rights.contains(name) { return notHere("right '\(name)'") }
        var candidates = kinds.contains(.rights) ? rights : []
        if kinds.contains(.entry), let layout { candidates += layout.fields.map(\.name) }
        return .failure("unknown name '\(name)'" + suggest(name, candidates))
    }

    private func suggest(_ word: String, _ candidates: [String]) -> String {
        Spelling.nearest(to: word, among: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }

    /// Type-checks `rule` as a condition; reports problems at the offending name.
    @discardableResult
    public func check(_ rule: Rule, what: String, diagnostics: inout DiagnosticCollector) -> Bool {
        var ok = true
        func type(_ e: RuleExpression) -> Int? {  // 1 = boolean, n = n-bit integer, 0 = literal
            switch e {
            case .name(let n, let at):
                switch resolve(n) {
                case .success(let r): return r.width
                case .failure(let why):
                    diagnostics.error("in \(what): \(why)", at: at)
                    ok = false
                    return nil
                }
            case .integer: return 0
            case .boolean: return 1
            case .not(let a):
                guard let t = type(a) else { return nil }
                if t > 1 { fail(a, "'!' needs a condition, but \(a) is a \(t)-bit value") }
                return 1
            case .and(let a, let b), .or(let a, let b):
                let ta = type(a)
                let tb = type(b)
                for (x, t) in [(a, ta), (b, tb)] {
                    if let t, t != 1 {
                        fail(
                            x,
                            t == 0
                                ? "a number is not a condition" : "\(x) is a \(t)-bit value; compare it with == or 'in'"
                        )
                    }
                }
                return 1
            case .equal(let a, let b), .notEqual(let a, let b):
                let ta = type(a)
                let tb = type(b)
                for (x, t, y) in [(a, ta, b), (b, tb, a)] {
                    if let t, t > 0, t < 64, case .integer(let v) = y, v >= (1 << UInt64(t)) {
                        fail(x, "\(v) does not fit in the \(t)-bit value \(x)")
                    }
                }
                return 1
            case .member(let a, let values):
                if let t = type(a), t > 0, t < 64, let big = values.first(where: { $0 >= (1 << UInt64(t)) }) {
                    fail(a, "\(big) does not fit in the \(t)-bit value \(a)")
                }
                return 1
            }
        }
        func fail(_ e: RuleExpression, _ message: String) {
            let at: SourceLocation
            if case .name(_, let l) = e { at = l } else { at = rule.location }
            diagnostics.error("in \(what): \(message)", at: at)
            ok = false
        }
        if let t = type(rule.expression), t != 1, ok {
            let value = t == 0 ? "a number" : "a \(t)-bit value"
            diagnostics.error(
                "in \(what): the rule must be a condition, but '\(rule.text)' is \(value)", at: rule.location)
            ok = false
        }
        return ok
    }
}
