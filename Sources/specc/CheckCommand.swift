import ArgumentParser
import Foundation
import SpecParser

/// `specc check [PATH...]`: validates specs and reports every problem at file:line:column.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Validate specs; print diagnostics and a summary.")

    enum Format: String, ExpressibleByArgument { case text, json }

    @Argument(help: "Spec files or directories (default: specs/).")
    var paths: [String] = []

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    func run() throws {
        let result = SpecLoader().load(paths: paths.isEmpty ? [DefaultSpecs.path] : paths)
        let errors = result.diagnostics.filter { $0.severity == .error }.count
        let warnings = result.diagnostics.filter { $0.severity == .warning }.count
        switch format {
        case .text:
            for d in result.diagnostics { printError(d.description) }
            if let s = result.specs {
                print(
                    "specs OK: \(s.files.count) files, \(s.formats.count) paging formats, \(s.registers.count) registers, \(s.features.count) CPUID features, \(s.cpuModels.count) CPU models\(warnings > 0 ? ", \(warnings) warnings" : "")"
                )
            } else {
                print("\(errors) error\(errors == 1 ? "" : "s")\(warnings > 0 ? ", \(warnings) warnings" : "")")
            }
        case .json:
            var out: [String: Any] = [
                "ok": result.specs != nil,
                "errors": errors,
                "warnings": warnings,
                "diagnostics": result.diagnostics.map { d -> [String: Any] in
                    var o: [String: Any] = ["severity": d.severity.rawValue, "message": d.message]
                    if let l = d.location {
                        o["file"] = l.file
                        o["line"] = l.line
                        o["column"] = l.column
                    }
                    o["notes"] = d.notes.map { n -> [String: Any] in
                        var no: [String: Any] = ["message": n.message]
                        if let l = n.location {
                            no["file"] = l.file
                            no["line"] = l.line
                            no["column"] = l.column
                        }
                        return no
                    }
                    return o
                },
            ]
            if let s = result.specs {
                out["summary"] = [
                    "files": s.files.count, "formats": s.formats.count, "registers": s.registers.count,
                    "features": s.features.count, "models": s.cpuModels.count,
                ]
            }
            let data = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
        if result.specs == nil { throw ExitCode(1) }
    }
}
