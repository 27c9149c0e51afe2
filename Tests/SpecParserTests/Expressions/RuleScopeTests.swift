import SpecParser
import Testing

@Suite("RuleScope: which names a rule may use, and rule types")
struct RuleScopeTests {
    let specs: SpecSet
    let registers: [String: RegisterSpec]
    let features: Set<String>

    init() throws {
        specs = try #require(ToySpecs.load().specs)
        registers = Dictionary(uniqueKeysWithValues: specs.registers.map { ($0.name, $0) })
        features = Set(specs.features.map(\.name))
    }

    func scope(_ kinds: RuleScope.Kinds) -> RuleScope {
        RuleScope(
            kinds: kinds, registers: registers, features: features, layout: specs.layout("toy-entry"),
            rights: ["writable", "user"], faultFacts: ["not-present", "reserved", "PK"])
    }

    let all: RuleScope.Kinds = [.control, .feature, .access, .entry, .rights, .key, .fault]

    func rule(_ text: String) throws -> Rule {
        let at = SourceLocation(file: "r.yaml", line: 1, column: 1)
        switch RuleParser.parse(text, at: at) {
        case .success(let e): return Rule(expression: e, text: text, location: at)
        case .failure(let d): throw d
        }
    }

    /// The messages of `check`, or an empty list when the rule is well typed.
    func problems(_ text: String, in kinds: RuleScope.Kinds) throws -> [String] {
        var d = DiagnosticCollector()
        let ok = scope(kinds).check(try rule(text), what: "a test rule", diagnostics: &d)
        #expect(ok == d.diagnostics.isEmpty)
        return d.diagnostics.map(\.message)
    }

    @Test("every kind of name resolves, with its width")
    func resolution() {
        let s = scope(all)
        #expect(s.resolve("TCR.EN").name == .control(register: "TCR", field: "EN", width: 1))
        #expect(s.resolve("TCR.MODE").name == .control(register: "TCR", field: "MODE", width: 3))
        #expect(s.resolve("cpuid.toy1g").name == .feature("toy1g"))
        #expect(s.resolve("access.write").name == .access(.write))
        #expect(s.resolve("access.guest-user").name == .access(.guestUser))
        #expect(s.resolve("P").name == .entry("P", width: 1))
        #expect(s.resolve("MT").name == .entry("MT", width: 3))
        #expect(s.resolve("writable").name == .right("writable"))
        #expect(s.resolve("key.AD").name == .key("AD"))
        #expect(s.resolve("fault.reserved").name == .fault("reserved"))
        #expect(s.resolve("TCR.MODE").name?.width == 3)
    }

    @Test(
        "unknown names are explained, with a suggestion when one is close",
        arguments: [
            ("TCR.EM", "register 'TCR' has no field 'EM' (did you mean 'EN'?)"),
            ("TCX.EN", "unknown name 'TCX.EN' (did you mean 'TCR'?)"),
            ("cpuid.toy1", "unknown CPUID feature 'toy1' (did you mean 'toy1g'?)"),
            ("access.wirte", "unknown access attribute 'wirte' (did you mean 'write'?)"),
            ("key.XD", "unknown protection-key right 'XD'; expected AD or WD"),
            ("fault.reservd", "unknown fault fact 'reservd' (did you mean 'reserved'?)"),
            ("writeable", "unknown name 'writeable' (did you mean 'writable'?)"),
            ("Q", "unknown name 'Q'"),
        ])
    func unknownNames(name: String, message: String) {
        guard case .failure(let why) = scope(all).resolve(name) else {
            Issue.record("\(name) resolved")
            return
        }
        #expect(why == message)
    }

    @Test("each rule site allows only its kinds of names")
    func scopes() {
        let control = scope([.control, .feature])
        let only = "this rule may name register fields (REGISTER.FIELD) and CPUID features (cpuid.NAME)"
        #expect(control.resolve("TCR.EN").name != nil)
        #expect(control.resolve("cpuid.toy1g").name != nil)
        guard case .failure(let entry) = control.resolve("P"),
            case .failure(let access) = control.resolve("access.user"),
            case .failure(let right) = control.resolve("writable"), case .failure(let key) = control.resolve("key.WD"),
            case .failure(let fact) = control.resolve("fault.reserved")
        else {
            Issue.record("a name outside the scope resolved")
            return
        }
        #expect(entry == "entry field 'P' cannot be used here; \(only)")
        #expect(access == "access attribute 'access.user' cannot be used here; \(only)")
        #expect(right == "right 'writable' cannot be used here; \(only)")
        #expect(
            key
                == "protection-key right 'key.WD' can be used only in the fault rules of a format with 'protection-keys'"
        )
        #expect(fact == "fault fact 'fault.reserved' cannot be used here; \(only)")
        guard case .failure(let register) = scope([.entry]).resolve("TCR.EN") else {
            Issue.record("a register field resolved in an entry-only scope")
            return
        }
        #expect(register == "register field 'TCR.EN' cannot be used here; this rule may name entry fields")
    }

    @Test("allowedDescription lists the kinds in a fixed order")
    func allowedDescription() {
        #expect(
            scope([.access, .rights, .control, .feature, .key]).allowedDescription
                == "register fields (REGISTER.FIELD), CPUID features (cpuid.NAME), access attributes (access.NAME), rights and protection-key rights (key.AD, key.WD)"
        )
        #expect(scope([]).allowedDescription == "no names")
    }

    @Test(
        "well-typed rules pass",
        arguments: [
            "TCR.EN && !TCR.WIDE", "TCR.MODE == 3", "TCR.MODE != 0 || TCR.MODE in [1, 7]", "MT in [2, 3, 7]",
            "P || (MT != 0 && cpuid.toy1g)", "access.write && !writable && (access.user || TCR.WP)", "true",
            "key.AD || key.WD && access.write", "!fault.not-present", "(TCR.EN)",
        ])
    func wellTyped(text: String) throws {
        #expect(try problems(text, in: all) == [])
    }

    @Test(
        "type errors: multi-bit values need a comparison, numbers must fit",
        arguments: [
            ("TCR.MODE && TCR.EN", "in a test rule: TCR.MODE is a 3-bit value; compare it with == or 'in'"),
            ("!MT", "in a test rule: '!' needs a condition, but MT is a 3-bit value"),
            ("TCR.EN || 1", "in a test rule: a number is not a condition"),
            ("MT in [2, 8]", "in a test rule: 8 does not fit in the 3-bit value MT"),
            ("MT == 9", "in a test rule: 9 does not fit in the 3-bit value MT"),
            ("9 != MT", "in a test rule: 9 does not fit in the 3-bit value MT"),
            ("TCR.MODE", "in a test rule: the rule must be a condition, but 'TCR.MODE' is a 3-bit value"),
            ("7", "in a test rule: the rule must be a condition, but '7' is a number"),
        ])
    func typeErrors(text: String, message: String) throws {
        #expect(try problems(text, in: all) == [message])
    }

    @Test("every unknown name in a rule is reported, each at its own location")
    func everyUnknownName() throws {
        var d = DiagnosticCollector()
        let r = try rule("TCR.NOPE && nope && cpuid.none")
        #expect(!scope(all).check(r, what: "x", diagnostics: &d))
        #expect(d.diagnostics.map { $0.location?.column } == [1, 13, 21])
    }
}
