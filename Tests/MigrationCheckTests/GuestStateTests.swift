import Foundation
import MigrationCheck
import SpecParser
import Testing

/// The `--state` file: a JSON object of hex strings keyed by the migration spec's state keys.
@Suite struct GuestStateTests {
    func parse(_ text: String) throws -> GuestState { try GuestState.parse(Data(text.utf8), specs: realSpecs()) }

    func inputError(_ text: String) throws -> String {
        do {
            _ = try parse(text)
        } catch let e as InputError {
            return e.message
        }
        Issue.record("no input error for \(text)")
        return ""
    }

    @Test func acceptsEveryKeyOfTheSpecInHex() throws {
        let state = try parse(
            #"{"fs_base": "0xFF4547CEB1600000", "cr4": "3506f0", "pkru": "0x5555_5554", "cr0": "0x0"}"#)
        #expect(state.values == ["fs_base": 0xff45_47ce_b160_0000, "cr4": 0x3506f0, "pkru": 0x5555_5554, "cr0": 0])
        #expect(try parse("{}").values.isEmpty)
    }

    @Test func unknownKeyIsNamedWithASuggestion() throws {
        let message = try inputError(#"{"fsbase": "0x1"}"#)
        #expect(message.contains("unknown state key 'fsbase'") && message.contains("did you mean 'fs_base'"))
    }

    @Test(arguments: [
        (#"{"fs_base": 4096}"#, "fs_base"), (#"{"cr4": "0xzz"}"#, "malformed value \"0xzz\""),
        (#"{"lstar": ""}"#, "lstar"), (#"{"lstar": "0x"}"#, "lstar"),
        (#"{"gs_base": "0x1_0000_0000_0000_0000"}"#, "gs_base"),
        (#"{"pkru": "0x100000000"}"#, "32-bit register PKRU"), (#"{"efer": null}"#, "null"),
        (#"{"efer": ["0x1"]}"#, "array"),
        (#"["0x1"]"#, "JSON object"), (#""0x1""#, "JSON object"), (#"{"fs_base": "0x1""#, "not valid JSON"),
        ("", "not valid JSON"),
    ])
    func malformedStatesAreInputErrors(text: String, expected: String) throws {
        let message = try inputError(text)
        #expect(message.contains(expected), "\(message)")
    }
}
