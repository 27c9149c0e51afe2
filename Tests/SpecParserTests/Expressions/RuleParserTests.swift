import SpecParser
import Testing

@Suite("RuleParser: grammar, precedence, located errors")
struct RuleParserTests {
    let origin = SourceLocation(file: "r.yaml", line: 3, column: 10)

    func parse(_ text: String) throws -> RuleExpression {
        switch RuleParser.parse(text, at: origin) {
        case .success(let e): return e
        case .failure(let d): throw d
        }
    }

    func failure(_ text: String) -> Diagnostic? {
        if case .failure(let d) = RuleParser.parse(text, at: origin) { return d }
        return nil
    }

    func at(_ column: Int) -> SourceLocation { SourceLocation(file: "r.yaml", line: 3, column: column) }

    @Test("names are located at their first character")
    func names() throws {
        let e = try parse("CR0.PG && access.guest-user || EPTP.page-walk-length == 3")
        #expect(e.names == ["CR0.PG", "access.guest-user", "EPTP.page-walk-length"])
        #expect(e.nameLocations.map(\.1) == [at(10), at(20), at(41)])
        #expect(try parse("cpuid.3dnowprefetch") == .name("cpuid.3dnowprefetch", at(10)))
        #expect(try parse("sse4_1") == .name("sse4_1", at(10)))
    }

    @Test("&& binds tighter than ||, and both are left-associative")
    func precedence() throws {
        let a = RuleExpression.name("a", at(10))
        #expect(try parse("a || b && c") == .or(a, .and(.name("b", at(15)), .name("c", at(20)))))
        #expect(try parse("a && b || c") == .or(.and(a, .name("b", at(15))), .name("c", at(20))))
        #expect(try parse("a && b && c") == .and(.and(a, .name("b", at(15))), .name("c", at(20))))
    }

    @Test("parentheses override precedence")
    func parentheses() throws {
        #expect(try parse("(a || b) && c") == .and(.or(.name("a", at(11)), .name("b", at(16))), .name("c", at(22))))
        #expect(try parse("((a))") == .name("a", at(12)))
    }

    @Test("! applies to the next operand")
    func not() throws {
        #expect(try parse("!a && b") == .and(.not(.name("a", at(11))), .name("b", at(16))))
        #expect(try parse("!(a || b)") == .not(.or(.name("a", at(12)), .name("b", at(17)))))
        #expect(try parse("!!a") == .not(.not(.name("a", at(12)))))
    }

    @Test("comparisons: ==, != and in, with decimal, hex and binary literals")
    func comparisons() throws {
        let mt = RuleExpression.name("MT", at(10))
        #expect(try parse("MT == 6") == .equal(mt, .integer(6)))
        #expect(try parse("MT != 0x6") == .notEqual(mt, .integer(6)))
        #expect(try parse("MT in [2, 3, 0b111]") == .member(mt, [2, 3, 7]))
        #expect(try parse("MT in [4]") == .member(mt, [4]))
        #expect(try parse("MT == 1 && a") == .and(.equal(mt, .integer(1)), .name("a", at(21))))
    }

    @Test("true and false are literals")
    func literals() throws {
        #expect(try parse("true") == .boolean(true))
        #expect(try parse("false || a") == .or(.boolean(false), .name("a", at(19))))
    }

    @Test("description prints the rule back in spec syntax")
    func description() throws {
        #expect(try parse("a||b&&!c").description == "a || b && !c")
        #expect(try parse("(a || b) && c").description == "(a || b) && c")
        #expect(try parse("MT in [2,3]").description == "MT in [2, 3]")
        #expect(try parse("x == 0x1f").description == "x == 0x1f")
        #expect(try parse("!(a && b)").description == "!(a && b)")
    }

    @Test("evaluation over a lookup table")
    func evaluate() throws {
        let values: [String: UInt64] = ["a": 1, "b": 0, "MT": 6]
        let lookup: (String) -> UInt64 = { values[$0] ?? 0 }
        #expect(try parse("a && !b").holds(lookup))
        #expect(try !parse("a && b").holds(lookup))
        #expect(try parse("b || a").holds(lookup))
        #expect(try parse("MT == 6 && MT != 7 && MT in [0, 6]").holds(lookup))
        #expect(try parse("MT").evaluate(lookup) == 6)
        #expect(try !parse("MT in [2, 3, 7]").holds(lookup))
    }

    @Test(
        "syntax errors are located at the offending character",
        arguments: [
            ("a &&", 14, "invalid rule: unexpected end of rule"),
            ("a & b", 12, "invalid rule: unexpected character '&'"),
            ("(a || b", 17, "invalid rule: expected ')'"),
            ("a b", 12, "invalid rule: unexpected 'b' after a complete rule"),
            ("a in 3", 15, "invalid rule: expected '[' after 'in'"),
            ("a in [1,]", 18, "invalid rule: expected a number in the 'in' list"),
            ("a in [1 2]", 18, "invalid rule: expected ',' or ']'"),
            ("a == 0x1g", 15, "invalid rule: '0x1g' is not a number"),
            ("&& a", 10, "invalid rule: unexpected '&&'"),
            ("", 10, "invalid rule: unexpected end of rule"),
            ("a )", 12, "invalid rule: unexpected ')' after a complete rule"),
            ("CR4.PAE ≠ 1", 18, "invalid rule: unexpected character '≠'"),
        ])
    func syntaxErrors(text: String, column: Int, message: String) {
        let d = failure(text)
        #expect(d?.message == message)
        #expect(d?.location == at(column))
    }

    @Test("an unclosed '(' is noted where it opened")
    func unclosedParenNote() {
        let d = failure("a && (b || c")
        #expect(d?.notes.map(\.message) == ["to match this '('"])
        #expect(d?.notes.first?.location == at(15))
    }
}
