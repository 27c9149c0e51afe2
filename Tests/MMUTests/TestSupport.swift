import Foundation
import SpecParser
import WalkContract

/// Paths and loaded specs shared by the MMU tests.
enum TestSupport {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let repositoryRoot = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()
    static let specsDirectory = repositoryRoot.appendingPathComponent("specs").path

    static let specs: SpecSet? = SpecLoader().load(paths: [specsDirectory]).specs

    /// The JSON object of a result line, for comparisons that ignore key order.
    static func object(_ json: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]
    }

    /// Compares a result with an expected object; `message` is free text and ignored.
    static func matches(_ result: WalkResult, _ expected: [String: Any]) -> Bool {
        guard var got = object(result.json) else { return false }
        var want = expected
        got["message"] = nil
        want["message"] = nil
        return NSDictionary(dictionary: got).isEqual(to: want)
    }
}
